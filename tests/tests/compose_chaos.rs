//! The chaos run across real containers (`scripts/compose-chaos`, in `.ci/run`):
//! the stack of docker-compose.yml — CA issuer, center and two county edges on
//! separate networks — while one county is cut off, the center and an edge are
//! killed with SIGKILL in the middle of uploads, and both keep ingesting. At the
//! end no item may be lost or altered: every recording ingested at either county
//! is at the center, its blob hashes to its name and to the bytes that were
//! ingested, both edges know it is verified, and every audit log is intact.
//!
//! Ignored in the plain test run (it needs Docker and the images):
//! `scripts/compose-chaos` builds them and runs it.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use jilu_tests::compose::Stack;
use jilu_tests::{random_file, rfc3339_in};
use serde_json::Value;

const MIB: usize = 1 << 20;
const EDGES: [(&str, &str); 2] = [("edge-410422", "410422"), ("edge-410423", "410423")];

/// A camera checked out at `svc`, so footage can be ingested from it.
fn office(s: &Stack, svc: &str) {
    s.edge(
        svc,
        &[
            "device",
            "add",
            "cam-01",
            "--kind",
            "body-camera",
            "--serial",
            "SN-0001",
            "--unit",
            "一队",
        ],
    );
    s.edge(
        svc,
        &["officer", "add", "1001", "--name", "张三", "--unit", "一队"],
    );
    let clock = rfc3339_in(0);
    s.edge(
        svc,
        &[
            "checkout",
            "cam-01",
            "--officer",
            "1001",
            "--purpose",
            "现场检查",
            "--battery",
            "90",
            "--free-mb",
            "9000",
            "--works",
            "yes",
            "--device-clock",
            &clock,
        ],
    );
}

/// Ingests `len` seeded random bytes at `svc`; returns their BLAKE3.
fn ingest(s: &Stack, svc: &str, name: &str, len: usize, seed: u64) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = random_file(dir.path(), name, len, seed);
    let hash = blake3::hash(&std::fs::read(&f).expect("read"))
        .to_hex()
        .to_string();
    let inside = format!("/tmp/{name}");
    s.copy_in(svc, &f, &inside);
    s.exec_ok(svc, &["chmod", "644", &inside]);
    s.edge(svc, &["ingest", &inside, "--device", "cam-01"]);
    hash
}

/// Hashes the center lists as verified, with their sizes.
fn center_items(s: &Stack) -> BTreeMap<String, u64> {
    s.center_json(&["items"])
        .iter()
        .map(|i| {
            (
                i["item"]["hash"].as_str().expect("hash").to_string(),
                i["item"]["size"].as_u64().expect("size"),
            )
        })
        .collect()
}

fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_secs(1));
    }
}

fn edge_items(s: &Stack, svc: &str) -> Vec<Value> {
    s.edge(svc, &["--json", "items"])
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect()
}

#[test]
#[ignore = "needs Docker and the images: run scripts/compose-chaos"]
fn no_item_is_lost_or_altered_across_cuts_and_kills() {
    let project = format!("jilu-chaos-{}", std::process::id());
    let s = Stack::up(&project, &["center", "edge-410422", "edge-410423"]);
    let mut want: BTreeMap<String, (usize, &str)> = BTreeMap::new();
    for (svc, _) in EDGES {
        office(&s, svc);
    }
    for (i, (svc, _)) in EDGES.iter().enumerate() {
        for k in 0..2u64 {
            let len = (2 + 3 * k as usize) * MIB;
            let h = ingest(&s, svc, &format!("c{i}-{k}.bin"), len, 100 * i as u64 + k);
            want.insert(h, (len, svc));
        }
    }
    wait_for(
        "the first items verified at the center",
        Duration::from_secs(120),
        || center_items(&s).len() == want.len(),
    );

    // county 410422 is cut off; it keeps recording, and 410423 is not held up
    s.disconnect("edge-410422", "county-410422");
    let cut = ingest(&s, "edge-410422", "cut.bin", 6 * MIB, 7);
    want.insert(cut.clone(), (6 * MIB, "edge-410422"));
    let other = ingest(&s, "edge-410423", "other.bin", 3 * MIB, 8);
    want.insert(other.clone(), (3 * MIB, "edge-410423"));
    wait_for(
        "410423's item verified while 410422 is cut off",
        Duration::from_secs(60),
        || center_items(&s).contains_key(&other),
    );
    assert!(
        !center_items(&s).contains_key(&cut),
        "a cut-off edge's item reached the center"
    );

    // the center dies in the middle of an upload, and comes back
    let big = ingest(&s, "edge-410423", "big.bin", 48 * MIB, 9);
    want.insert(big.clone(), (48 * MIB, "edge-410423"));
    std::thread::sleep(Duration::from_millis(700));
    s.kill9("center");
    s.start("center");
    s.wait_healthy("center", Duration::from_secs(90));

    // an edge dies in the middle of its next upload, and comes back
    let big2 = ingest(&s, "edge-410423", "big2.bin", 32 * MIB, 10);
    want.insert(big2, (32 * MIB, "edge-410423"));
    std::thread::sleep(Duration::from_millis(500));
    s.kill9("edge-410423");
    s.start("edge-410423");
    s.wait_healthy("edge-410423", Duration::from_secs(90));

    // the county's link is back
    s.connect("edge-410422", "county-410422");
    wait_for(
        "every item verified at the center",
        Duration::from_secs(240),
        || center_items(&s).len() == want.len(),
    );

    // nothing lost, nothing altered: the center holds exactly what was ingested,
    // and each blob on its disk hashes to its name
    let at_center = center_items(&s);
    let want_sizes: BTreeMap<String, u64> = want
        .iter()
        .map(|(h, (len, _))| (h.clone(), *len as u64))
        .collect();
    assert_eq!(at_center, want_sizes);
    for hash in at_center.keys() {
        let blob = s.read(
            "center",
            &format!("/var/lib/jilu/data/blobs/{}/{hash}", &hash[..2]),
        );
        assert_eq!(
            blake3::hash(&blob).to_hex().as_str(),
            hash,
            "blob {hash} is altered"
        );
    }
    // each edge learns that all of its items are verified
    for (svc, county) in EDGES {
        wait_for(
            &format!("{svc} knows its items are verified"),
            Duration::from_secs(120),
            || {
                edge_items(&s, svc)
                    .iter()
                    .all(|i| i["center_verified_at"].is_number())
            },
        );
        let held: Vec<String> = edge_items(&s, svc)
            .iter()
            .map(|i| i["hash"].as_str().expect("hash").to_string())
            .collect();
        let mine: Vec<&String> = want
            .iter()
            .filter(|(_, (_, e))| *e == svc)
            .map(|(h, _)| h)
            .collect();
        assert_eq!(held.len(), mine.len(), "{svc}");
        for h in mine {
            assert!(held.contains(h), "{svc} lost {h}");
            let at = s.center_json(&["items"]);
            let rec = at
                .iter()
                .find(|i| i["item"]["hash"] == h.as_str())
                .expect("at center");
            assert_eq!(rec["item"]["county"], county);
        }
        let audit = s.edge(svc, &["audit", "verify"]);
        assert!(audit.contains("intact"), "{svc}: {audit}");
    }
    let audit = s.exec_ok(
        "center",
        &[
            "center",
            "--config",
            "/var/lib/jilu/center.toml",
            "audit-verify",
        ],
    );
    assert!(audit.contains("intact"), "center: {audit}");
}
