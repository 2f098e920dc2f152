#![allow(clippy::unwrap_used)]
//! Stored data outlives releases (invariant 10): stores written before records
//! carried a format version (`tests/fixtures/store-v0`, see its README) are read
//! by today's build, every record as it was. The expected values are what the
//! old build printed on these very stores. A field that today's build adds is
//! allowed; a field that changed value or went missing is not.
//!
//! Then the stores are opened read-write (which marks them with today's layout)
//! and written to, and everything reads the same again, old and new records
//! together: the audit chain links an old entry to a new one.

use std::path::{Path, PathBuf};
use std::process::Command;

use jilu_tests::binary;
use serde_json::Value;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/store-v0")
}

/// The stores, unpacked into a temporary directory.
fn unpack() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let ok = Command::new("tar")
        .arg("-C")
        .arg(tmp.path())
        .arg("-xzf")
        .arg(fixture().join("stores.tar.gz"))
        .status()
        .unwrap()
        .success();
    assert!(ok, "cannot unpack the fixture");
    tmp
}

fn lines(text: &str) -> Vec<Value> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn expected(name: &str) -> Vec<Value> {
    lines(&std::fs::read_to_string(fixture().join("expected").join(name)).unwrap())
}

/// Every field of `want` is in `got` with the same value (objects may have
/// gained fields; arrays must match element for element).
fn assert_contains(got: &Value, want: &Value, at: &str) {
    match (got, want) {
        (Value::Object(g), Value::Object(w)) => {
            for (k, wv) in w {
                let gv = g
                    .get(k)
                    .unwrap_or_else(|| panic!("{at}.{k} is missing: {got}"));
                assert_contains(gv, wv, &format!("{at}.{k}"));
            }
        }
        (Value::Array(g), Value::Array(w)) => {
            assert_eq!(g.len(), w.len(), "{at}: {got} vs {want}");
            for (i, (gv, wv)) in g.iter().zip(w).enumerate() {
                assert_contains(gv, wv, &format!("{at}[{i}]"));
            }
        }
        _ => assert_eq!(got, want, "{at}"),
    }
}

fn edge(dir: &Path, args: &[&str]) -> Vec<Value> {
    let mut c = Command::new(binary("edge-node"));
    c.env("JILU_EDGE_DIR", dir);
    lines(&json_out(c, "edge-node", args))
}

fn center(dir: &Path, args: &[&str]) -> Vec<Value> {
    lines(&center_text(dir, args))
}

fn center_text(dir: &Path, args: &[&str]) -> String {
    let mut c = Command::new(binary("center"));
    c.arg("--config").arg(dir.join("center.toml"));
    json_out(c, "center", args)
}

/// What `cmd --json ARGS` prints; it must succeed.
fn json_out(mut cmd: Command, name: &str, args: &[&str]) -> String {
    let out = cmd
        .env("JILU_LOG", "error")
        .arg("--json")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{name} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const EDGE_VIEWS: [&str; 8] = [
    "items",
    "activity list",
    "device list",
    "officer list",
    "matter list",
    "audit verify",
    "audit show",
    "docs",
];

/// Every view of an edge store equals what the old build printed.
fn check_edge(dir: &Path, name: &str) {
    for view in EDGE_VIEWS {
        let args: Vec<&str> = view.split(' ').collect();
        let got = edge(dir, &args);
        let want = expected(&format!("{name}.{}.jsonl", view.replace(' ', "-")));
        assert_contains(
            &Value::Array(got),
            &Value::Array(want),
            &format!("{name} {view}"),
        );
    }
    for f in std::fs::read_dir(fixture().join("expected")).unwrap() {
        let file = f.unwrap().file_name().to_string_lossy().into_owned();
        if let Some(month) = file
            .strip_prefix(&format!("{name}.ledger-"))
            .and_then(|m| m.strip_suffix(".jsonl"))
        {
            let got = edge(dir, &["ledger", "--month", month]);
            assert_contains(&Value::Array(got), &Value::Array(expected(&file)), &file);
        }
    }
    // the status reads every kind of meta record: link state, set-aside and
    // freed marks, check-out pointers
    let status = edge(dir, &["status"]).pop().unwrap();
    let want: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture().join(format!("expected/{name}.status.json"))).unwrap(),
    )
    .unwrap();
    for key in [
        "link",
        "items",
        "bytes",
        "upload_items",
        "checked_out",
        "locally_corrupt",
        "refused",
        "findings",
        "center_configured",
    ] {
        assert_contains(&status[key], &want[key], &format!("{name} status.{key}"));
    }
}

fn check_center(dir: &Path) {
    // the audit check prints one sentence, in --json mode too
    let want =
        std::fs::read_to_string(fixture().join("expected/center.audit-verify.jsonl")).unwrap();
    assert_eq!(center_text(dir, &["audit-verify"]).trim(), want.trim());
    for view in ["items", "edges", "activities", "docs"] {
        let got = center(dir, &[view]);
        let want = expected(&format!("center.{view}.jsonl"));
        assert_contains(
            &Value::Array(got),
            &Value::Array(want),
            &format!("center {view}"),
        );
    }
}

#[test]
fn stores_from_before_record_versions_read_back_whole() {
    let tmp = unpack();
    for name in ["edge-410422", "edge-410423"] {
        check_edge(&tmp.path().join(name), name);
    }
    check_center(&tmp.path().join("center"));
    // footage written then still verifies and exports to its hash
    let e = tmp.path().join("edge-410422");
    for v in edge(&e, &["verify"]) {
        assert_eq!(v["ok"], true, "{v}");
    }
    let item = edge(&e, &["items"]).pop().unwrap();
    let hash = item["hash"].as_str().unwrap();
    let out = tmp.path().join("exported");
    edge(&e, &["export", hash, "--out", out.to_str().unwrap()]);
    assert_eq!(
        blake3::hash(&std::fs::read(&out).unwrap())
            .to_hex()
            .as_str(),
        hash
    );
    // 410423's footage was freed after the center verified it: that mark reads too
    let freed = edge(&tmp.path().join("edge-410423"), &["verify"]);
    assert!(freed.iter().all(|v| v["freed"] == true), "{freed:?}");
}

#[test]
fn old_stores_take_new_records_and_still_read_whole() {
    let tmp = unpack();
    let e = tmp.path().join("edge-410422");
    let before = edge(&e, &["audit", "show"]).len();
    // a read-write command upgrades the store's layout and adds versioned records
    edge(
        &e,
        &[
            "device", "add", "cam-09", "--kind", "camera", "--serial", "N-9", "--unit", "一队",
        ],
    );
    let f = tmp.path().join("new.mp4");
    std::fs::write(&f, b"footage recorded after the upgrade").unwrap();
    let acks = edge(
        &e,
        &[
            "ingest",
            f.to_str().unwrap(),
            "--device",
            "cam-09",
            "--officer",
            "41042201",
        ],
    );
    assert_eq!(acks.len(), 1);
    // everything old reads as before (the views grew by the new records only)
    let audit = edge(&e, &["audit", "verify"]).pop().unwrap();
    assert_eq!(audit["problems"], Value::Array(vec![]), "{audit}");
    assert_eq!(audit["entries"].as_u64().unwrap() as usize, before + 2);
    let shown = edge(&e, &["audit", "show"]);
    assert_contains(
        &Value::Array(shown[..before].to_vec()),
        &Value::Array(expected("edge-410422.audit-show.jsonl")),
        "old entries after the upgrade",
    );
    let items = edge(&e, &["items"]);
    assert_eq!(items.len(), 4);
    assert_contains(
        &Value::Array(
            items
                .iter()
                .filter(|i| i["hash"] != acks[0]["hash"])
                .cloned()
                .collect(),
        ),
        &Value::Array(expected("edge-410422.items.jsonl")),
        "old items after the upgrade",
    );
    for v in edge(&e, &["verify"]) {
        assert_eq!(v["ok"], true, "{v}");
    }
    // the layout mark is there now: a later open sees a current store
    let node = edge_node::edge::Edge::open(&e, edge_node::store::Mode::ReadOnly).unwrap();
    assert_eq!(
        node.store.get(edge_node::store::META, b"layout").unwrap(),
        Some(edge_node::schema::LAYOUT.to_be_bytes().to_vec())
    );
}

#[test]
fn a_store_of_a_newer_layout_is_refused_by_name_and_left_alone() {
    let tmp = unpack();
    let e = tmp.path().join("edge-410423");
    {
        let store = edge_node::store::open(&e.join("db"), edge_node::store::Mode::ReadWrite, false)
            .unwrap();
        store
            .db
            .put_cf(
                &store.cf(edge_node::store::META).unwrap(),
                b"layout",
                (edge_node::schema::LAYOUT + 1).to_be_bytes(),
            )
            .unwrap();
    }
    for args in [
        &["items"][..],
        &["officer", "add", "9", "--name", "x", "--unit", "u"][..],
    ] {
        let out = Command::new(binary("edge-node"))
            .env("JILU_EDGE_DIR", &e)
            .args(args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        jilu_tests::assert_one_line(&err);
        assert!(err.contains("newer than this build of Jilu knows"), "{err}");
    }
}
