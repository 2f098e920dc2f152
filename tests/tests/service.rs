#![allow(clippy::unwrap_used)]
//! The office's node under SIGTERM: during an ingest a keeper runs through it,
//! during an upload to the center, and during a dock wipe. Each time the node
//! must stop within its deadline (10 s by default) with exit status 0, and leave
//! the store as the durability protocol promises: nothing partial visible, no
//! pending ingest and no orphan chunk after the next open, the audit chain
//! intact, and every acknowledged item intact. The signal is sent once the work
//! is seen in progress (a pending marker, bytes at the center, an ingested file
//! not yet wiped), never after a guessed sleep.

use std::path::Path;
use std::time::{Duration, Instant};

use jilu_tests::cluster::{assert_converged, Ca, Center};
use jilu_tests::{b3_file, random_file, Edge};
use serde_json::Value;

const MIB: usize = 1 << 20;
const DEADLINE: Duration = Duration::from_secs(10);

fn status(e: &Edge) -> Value {
    e.json(&["status"]).pop().unwrap()
}

/// Waits (polling) until `f` holds, at most `limit`.
fn wait_until(limit: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let started = Instant::now();
    while !f() {
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The store after a stop: the next read-write open discards what was cut short,
/// no pending ingest is left, the audit log verifies, every item verifies.
fn assert_store_sound(e: &Edge) {
    // a read-write command recovers anything interrupted
    e.ok(&["device", "set-status", "cam-02", "available"]);
    let s = status(e);
    assert_eq!(s["interrupted_ingests"], 0, "{s}");
    assert!(e.ok(&["audit", "verify"]).contains("audit log intact"));
    let v = e.ok(&["verify"]);
    assert!(v.contains(" 0 corrupt"), "{v}");
}

fn office() -> Edge {
    let e = Edge::office("410422", 0);
    e.ok(&[
        "device", "add", "cam-02", "--kind", "camera", "--serial", "SN-2", "--unit", "一队",
    ]);
    e
}

#[test]
fn sigterm_during_an_ingest_through_the_node_discards_it_and_stops_in_time() {
    let e = office();
    let small = random_file(e.tmp.path(), "small.mp4", MIB + 17, 1);
    e.ok(&["ingest", small.to_str().unwrap(), "--device", "cam-01"]);
    let node = e.start_node(&["run"]);
    let big = random_file(e.tmp.path(), "big.mp4", 768 * MIB, 2);
    let cli = e
        .cmd()
        .args(["ingest", big.to_str().unwrap(), "--device", "cam-01"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_until(Duration::from_secs(60), "the ingest to start", || {
        status(&e)["interrupted_ingests"].as_u64().unwrap() > 0
    });
    let (exit, took) = node.terminate();
    assert!(exit.success(), "the node exited with {exit}");
    assert!(took < DEADLINE, "the node took {took:?} to stop");
    let out = cli.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the ingest must not be acknowledged");
    jilu_tests::assert_one_line(&err);
    // only the small item is there; the big one left nothing behind
    let items = e.items();
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["hash"], b3_file(&small));
    assert!(!e.ok(&["--json", "items"]).contains(&b3_file(&big)));
    assert_store_sound(&e);
    let audit = e.ok(&["--json", "audit", "show"]);
    assert!(audit.contains("ingest_discarded"), "{audit}");
    // the keeper simply runs it again
    e.ok(&["ingest", big.to_str().unwrap(), "--device", "cam-01"]);
    assert_eq!(e.items().len(), 2);
}

#[test]
fn sigterm_during_an_upload_stops_in_time_and_the_next_sync_resumes() {
    let root = tempfile::tempdir().unwrap();
    let ca = Ca::new(root.path());
    let center = Center::start(root.path(), &ca);
    let e = office();
    // a capped link, so the upload is still running when the signal comes
    e.link(&ca, &center, "410422", "bandwidth_bytes_per_sec = 8388608");
    let f = random_file(e.tmp.path(), "upload.mp4", 96 * MIB, 3);
    e.ok(&["ingest", f.to_str().unwrap(), "--device", "cam-01"]);
    let node = e.start_node(&["run"]);
    // stop once the center holds a good part of the item in its partial file
    // (one partial file per item and sending node: `<hash>.<node>`)
    let partial =
        center
            .dir
            .join("data/blobs/partial")
            .join(format!("{}.{}", b3_file(&f), e.node()));
    wait_until(Duration::from_secs(60), "bytes to reach the center", || {
        std::fs::metadata(&partial).is_ok_and(|m| m.len() >= 16 * MIB as u64)
    });
    let log = node.log.clone();
    let (exit, took) = node.terminate();
    let log = std::fs::read_to_string(log).unwrap_or_default();
    assert!(exit.success(), "the node exited with {exit}: {log}");
    assert!(took < DEADLINE, "the node took {took:?} to stop: {log}");
    let s = status(&e);
    assert_eq!(s["upload_items"], 1, "the item was not verified yet: {s}");
    assert_store_sound(&e);
    // the next sync finishes the item and sends only what the center lacked
    let report = e.sync_once();
    assert_eq!(report["items_verified"], 1, "{report}");
    let resent = report["bytes_sent"].as_u64().unwrap();
    assert!(
        resent <= (96 - 8) * MIB as u64,
        "resumed after the stop: sent {resent} B of {} B",
        96 * MIB
    );
    let items = e.items();
    assert!(items[0]["center_verified_at"].is_number(), "{items:?}");
    assert_converged(&center, &e, "410422");
}

#[test]
fn sigterm_during_a_dock_wipe_never_deletes_a_file_without_its_trace() {
    let e = office();
    let dock = e.tmp.path().join("dock");
    let cam = dock.join("cam-01");
    std::fs::create_dir_all(&cam).unwrap();
    let files: Vec<_> = (0..4)
        .map(|i| random_file(&cam, &format!("clip-{i}.mp4"), 160 * MIB, 10 + i))
        .collect();
    let hashes: Vec<String> = files.iter().map(|f| b3_file(f)).collect();
    let node = e.start_node(&["run", "--dock", dock.to_str().unwrap(), "--wipe"]);
    // stop while a file is stored but not yet wiped (verifying before the wipe)
    wait_until(
        Duration::from_secs(120),
        "a stored file not yet wiped",
        || {
            let held = e.items().len();
            let left = files.iter().filter(|f| f.exists()).count();
            held >= 1 && left + held > files.len()
        },
    );
    let (exit, took) = node.terminate();
    assert!(exit.success(), "the node exited with {exit}");
    assert!(took < DEADLINE, "the node took {took:?} to stop");
    assert_store_sound(&e);
    let audit: Vec<Value> = e.json(&["audit", "show"]);
    let items: Vec<String> = e
        .items()
        .iter()
        .map(|i| i["hash"].as_str().unwrap().to_string())
        .collect();
    for (f, h) in files.iter().zip(&hashes) {
        let wiped = audit
            .iter()
            .any(|a| a["action"] == "source_wiped" && a["subject"] == format!("item:{h}"));
        if !f.exists() {
            assert!(wiped, "{} was deleted without a wipe entry", f.display());
            assert!(
                items.contains(h),
                "{} was deleted but is not stored",
                f.display()
            );
        }
        if wiped {
            assert!(items.contains(h));
        }
    }
    // what is left on the device is taken up again by the next run
    let node = e.start_node(&["run", "--dock", dock.to_str().unwrap(), "--wipe"]);
    wait_until(
        Duration::from_secs(120),
        "every file stored and wiped",
        || e.items().len() == files.len() && files.iter().all(|f| !Path::new(f).exists()),
    );
    let (exit, _) = node.terminate();
    assert!(exit.success());
    let mut held: Vec<String> = e
        .items()
        .iter()
        .map(|i| i["hash"].as_str().unwrap().to_string())
        .collect();
    held.sort();
    let mut want = hashes.clone();
    want.sort();
    assert_eq!(held, want);
    assert_store_sound(&e);
}
