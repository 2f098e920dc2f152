#![allow(clippy::unwrap_used)]
//! The fuzz targets' corpora (`fuzz/corpus/<target>/`), run through the same entry
//! points in the normal test suite: every input the fuzzers kept, and every crash
//! they ever found (`fuzz/regressions/<target>/`), must decode or be refused
//! without a panic.

use std::path::{Path, PathBuf};

use jilu_common::fuzzing;

fn inputs(target: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut out = Vec::new();
    for dir in ["corpus", "regressions"] {
        if let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) {
            out.extend(entries.map(|e| e.unwrap().path()));
        }
    }
    out.sort();
    out
}

fn run(target: &str, f: fn(&[u8])) {
    let files = inputs(target);
    assert!(
        !files.is_empty(),
        "no corpus for {target} under fuzz/corpus/{target}"
    );
    for path in files {
        let data = std::fs::read(&path).unwrap();
        f(&data);
        // and every prefix of it: truncation is the commonest damage
        for cut in [0, 1, data.len() / 2, data.len().saturating_sub(1)] {
            f(&data[..cut.min(data.len())]);
        }
    }
}

#[test]
fn frames() {
    run("frame", fuzzing::frame);
}

#[test]
fn records() {
    run("record", fuzzing::record);
}

#[test]
fn documents() {
    run("document", fuzzing::document);
}

#[test]
fn media() {
    run("media", fuzzing::media);
}

/// Writes the seed corpora from real messages and records. Run again after a wire
/// or record change: `cargo test -p jilu-common --test fuzz_corpus -- --ignored`.
#[test]
#[ignore = "writes fuzz/corpus: run by hand after a format change"]
fn write_seeds() {
    use jilu_common::activity::Activity;
    use jilu_common::audit::{Action, Entry};
    use jilu_common::codec;
    use jilu_common::item::Item;
    use jilu_common::wire::{DocHeads, Offer, Request, Response, PROTOCOL_VERSION};

    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let fixture = repo.join("tests/fixtures/store-v0/expected");
    let put = |target: &str, name: &str, bytes: &[u8]| {
        let dir = repo.join("fuzz/corpus").join(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), bytes).unwrap();
    };
    let body = |frame: Vec<u8>| frame[4..].to_vec();
    let item_json = std::fs::read_to_string(fixture.join("center.items.jsonl")).unwrap();
    let first: serde_json::Value = serde_json::from_str(item_json.lines().next().unwrap()).unwrap();
    let item: Item = serde_json::from_value(first["item"].clone()).unwrap();
    let hash = item.hash;
    let requests = [
        Request::Hello {
            version: PROTOCOL_VERSION,
            software: "edge-node 0.1.0".into(),
        },
        Request::Heads {
            docs: vec![DocHeads {
                name: "activity/410422/A-410422-001".into(),
                heads: vec![[7; 32]],
            }],
        },
        Request::DocSync {
            name: "ledger/410422/2026-12".into(),
            message: Some(vec![0x42, 1, 2, 3]),
        },
        Request::DocsDone,
        Request::Queue {
            items: 3,
            bytes: 9000,
        },
        Request::Offer(Box::new(Offer {
            hash: *hash.as_bytes(),
            size: item.size,
            cvs: vec![*hash.as_bytes()],
            item: item.clone(),
        })),
        Request::Chunk {
            index: 0,
            data: vec![0xAB; 300],
        },
        Request::Done,
    ];
    for (i, r) in requests.iter().enumerate() {
        put(
            "frame",
            &format!("request-{i}"),
            &body(codec::encode(r).unwrap()),
        );
    }
    let responses = [
        Response::Welcome {
            version: PROTOCOL_VERSION,
            center: "center-city".into(),
            node: "edge-410422".into(),
            county: "410422".into(),
        },
        Response::Refused {
            reason: "protocol version 9 is not supported".into(),
        },
        Response::Differ {
            names: vec!["activity/410422/A-410422-001".into()],
        },
        Response::Have {
            missing: vec![(0, 3), (7, 8)],
        },
        Response::ChunkRejected { index: 2 },
        Response::Verified {
            at: 1_796_168_415_513,
            center: "center-city".into(),
        },
    ];
    for (i, r) in responses.iter().enumerate() {
        put(
            "frame",
            &format!("response-{i}"),
            &body(codec::encode(r).unwrap()),
        );
    }
    let entry = Entry {
        seq: 4,
        at: 1_796_168_413_226,
        node: "edge-410422".into(),
        actor: "keeper".into(),
        action: Action::Ingest,
        subject: format!("item:{}", item.hash),
        detail: serde_json::json!({"source": "/srv/dock/cam-01/A0001.MP4"}),
        prev: [9; 32],
        via: Some("uid 1001 (li), pid 4242".into()),
    };
    put("record", "entry-v1", &entry.encode());
    put("record", "entry-v0", &serde_json::to_vec(&entry).unwrap());
    let activity_json = std::fs::read_to_string(fixture.join("center.activities.jsonl")).unwrap();
    let activity: Activity = serde_json::from_str(activity_json.lines().next().unwrap()).unwrap();
    let mut d = jilu_common::doc::new_document(jilu_common::doc::actor_for("edge-410422")).unwrap();
    jilu_common::doc::put(&mut d, &["activity"], &activity).unwrap();
    put("document", "activity", &d.save());
    let mut state = automerge::sync::State::new();
    use automerge::sync::SyncDoc;
    if let Some(m) = d.sync().generate_sync_message(&mut state) {
        put("document", "sync-message", &m.encode());
    }
    for f in ["sample.mp4", "sample.mov", "sample.jpg", "sample.wav"] {
        put(
            "media",
            f,
            &std::fs::read(repo.join("tests/data").join(f)).unwrap(),
        );
    }
}
