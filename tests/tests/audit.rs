#![allow(clippy::unwrap_used)]
//! The audit log (art. 18) must expose tampering: an entry edited, dropped or
//! moved in the RocksDB store is reported by `edge-node audit verify`, which then
//! exits non-zero. The store is tampered with directly, as an insider with file
//! access would, not through Jilu.

use edge_node::store::{self, Mode, Store};
use jilu_tests::Edge;

/// A node with a few dozen entries of every kind.
fn busy_node() -> Edge {
    let e = Edge::office("410402", 0);
    for i in 0..5 {
        let f = jilu_tests::random_file(e.tmp.path(), &format!("r{i}.bin"), 1000 + i, i as u64);
        e.ok(&["ingest", f.to_str().unwrap(), "--device", "cam-01"]);
    }
    e.ok(&["checkin", "cam-01"]);
    e.ok(&["officer", "add", "1002", "--name", "李四", "--unit", "二队"]);
    e
}

fn tamper(e: &Edge, f: impl FnOnce(&Store)) {
    let s = store::open(&e.db_path(), Mode::ReadWrite, false).unwrap();
    f(&s);
}

fn entry(s: &Store, seq: u64) -> Vec<u8> {
    s.get(store::AUDIT, &store::be64(seq)).unwrap().unwrap()
}

fn put(s: &Store, seq: u64, bytes: &[u8]) {
    s.db.put_cf(&s.cf(store::AUDIT).unwrap(), store::be64(seq), bytes)
        .unwrap();
}

fn verify(e: &Edge) -> (bool, String) {
    let out = e.run(&["audit", "verify"]);
    (out.status.success(), jilu_tests::text(&out))
}

#[test]
fn intact_log_verifies() {
    let e = busy_node();
    let (ok, text) = verify(&e);
    assert!(ok, "{text}");
    assert!(text.contains("audit log intact"), "{text}");
}

#[test]
fn an_edited_entry_is_detected() {
    let e = busy_node();
    tamper(&e, |s| {
        // the entry is a versioned record (a header, then JSON): edit its bytes
        let bytes = entry(s, 6);
        let at = bytes
            .windows(8)
            .position(|w| w == b"\"keeper\"")
            .expect("entry 6 names the keeper");
        let mut edited = bytes.clone();
        edited[at + 1..at + 7].copy_from_slice(b"nobody");
        put(s, 6, &edited);
    });
    let (ok, text) = verify(&e);
    assert!(!ok, "{text}");
    assert!(
        text.contains("entry 7 does not link to the entry before it"),
        "{text}"
    );
}

#[test]
fn a_dropped_entry_is_detected() {
    let e = busy_node();
    tamper(&e, |s| {
        s.db.delete_cf(&s.cf(store::AUDIT).unwrap(), store::be64(4))
            .unwrap()
    });
    let (ok, text) = verify(&e);
    assert!(!ok, "{text}");
    assert!(text.contains("entries 4..4 are missing"), "{text}");
}

#[test]
fn a_dropped_last_entry_is_detected() {
    let e = busy_node();
    let last = e.json(&["audit", "show"]).len() as u64 - 1;
    tamper(&e, |s| {
        s.db.delete_cf(&s.cf(store::AUDIT).unwrap(), store::be64(last))
            .unwrap()
    });
    let (ok, text) = verify(&e);
    assert!(!ok, "{text}");
    assert!(text.contains("the tail was edited or cut off"), "{text}");
}

#[test]
fn reordered_entries_are_detected() {
    let e = busy_node();
    tamper(&e, |s| {
        let (a, b) = (entry(s, 3), entry(s, 5));
        put(s, 3, &b);
        put(s, 5, &a);
    });
    let (ok, text) = verify(&e);
    assert!(!ok, "{text}");
    assert!(text.contains("claims to be 5 (reordered)"), "{text}");
}

#[test]
fn every_action_leaves_an_entry() {
    let e = busy_node();
    let actions: Vec<String> = e
        .json(&["audit", "show"])
        .iter()
        .map(|v| v["action"].as_str().unwrap().to_string())
        .collect();
    for want in [
        "node_initialised",
        "device_registered",
        "officer_registered",
        "check_out",
        "ingest",
        "check_in",
    ] {
        assert!(
            actions.iter().any(|a| a == want),
            "no {want} in {actions:?}"
        );
    }
    let hash = e.items()[0]["hash"].as_str().unwrap().to_string();
    e.ok(&["item", &hash]);
    let last = e.json(&["audit", "show"]).pop().unwrap();
    assert_eq!(last["action"], "access");
    assert_eq!(last["subject"], format!("item:{hash}"));
}
