#![allow(clippy::unwrap_used)]
//! Stored documents stay readable across Automerge releases: the bytes that
//! automerge 0.7.4 wrote (`tests/fixtures/automerge-0.7/`, made by
//! `jilu_tests::doc_fixture`) must load in the release Jilu builds with now, with the
//! same content and the same heads; the stored sync state and a sync message must
//! decode and apply; and an old document edited now must sync with a new peer.
//!
//! `write_fixture` (ignored) regenerates a fixture directory with the running
//! release; see the fixture's README.

use std::path::{Path, PathBuf};

use jilu_common::activity::Activity;
use jilu_common::automerge::sync::{Message, State, SyncDoc};
use jilu_common::automerge::AutoCommit;
use jilu_common::doc;
use jilu_common::matter::{self, Matter};
use jilu_tests::doc_fixture::{self, heads_hex, sync_pair, CENTER_NODE, DOCS, EDGE_NODE};
use serde_json::Value;

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/automerge-0.7")
}

fn bytes(file: &str) -> Vec<u8> {
    let path = fixture_dir().join(file);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn recorded(file: &str) -> Value {
    serde_json::from_slice(&bytes(file)).unwrap()
}

/// A fixture document as `Journal::load_doc` opens it on a node.
fn load(file: &str, node: &str) -> AutoCommit {
    AutoCommit::load(&bytes(&format!("{file}.automerge")))
        .unwrap_or_else(|e| panic!("{file}.automerge does not load: {e}"))
        .with_actor(doc::actor_for(node))
}

/// Regenerates a fixture with the running release:
/// `JILU_FIXTURE_OUT=tests/fixtures/automerge-X cargo test --release -p jilu-tests
/// --test automerge_fixture -- --ignored write_fixture`.
#[test]
#[ignore = "writes fixture files; run by hand with JILU_FIXTURE_OUT set"]
fn write_fixture() {
    let out = std::env::var_os("JILU_FIXTURE_OUT").expect(
        "set JILU_FIXTURE_OUT to the directory to write, e.g. tests/fixtures/automerge-0.7",
    );
    doc_fixture::write(Path::new(&out)).unwrap();
}

#[test]
fn every_fixture_document_loads_with_its_recorded_content_and_heads() {
    for file in DOCS {
        let mut d = load(file, EDGE_NODE);
        let want = recorded(&format!("{file}.json"));
        assert_eq!(
            serde_json::json!(heads_hex(&d.get_heads())),
            want["heads"],
            "{file}: heads"
        );
        assert_eq!(doc::to_json(&d).unwrap(), want["json"], "{file}: content");
        // and the typed reads the nodes do
        match file {
            "activity" => {
                let a: Activity = doc::get(&d, &["activity"]).unwrap().unwrap();
                assert_eq!(a.annotations.len(), 2);
                assert_eq!(a.items.len(), 2);
                assert!(a.hold.is_some());
            }
            "catalogue" => {
                let rows = doc::get_all::<Matter>(&d, &["matters"]).unwrap();
                assert_eq!(rows.len(), matter::annex().len());
            }
            _ => {}
        }
        // what this release saves from it loads back to the same heads and content
        let mut again = AutoCommit::load(&d.save()).unwrap();
        assert_eq!(
            again.get_heads(),
            d.get_heads(),
            "{file}: heads after re-save"
        );
        assert_eq!(
            doc::to_json(&again).unwrap(),
            want["json"],
            "{file}: re-saved"
        );
    }
}

#[test]
fn fixture_sync_state_decodes_to_the_activitys_heads() {
    let state = State::decode(&bytes("sync-state.bin")).unwrap();
    let want = recorded("sync-state.json");
    assert_eq!(
        serde_json::json!(heads_hex(&state.shared_heads)),
        want["shared_heads"]
    );
    assert_eq!(
        want["shared_heads"],
        recorded("activity.json")["heads"],
        "the state was stored once edge and center held the same changes"
    );
}

#[test]
fn fixture_sync_message_decodes_and_applies_to_the_stored_activity() {
    let msg = Message::decode(&bytes("sync-message.bin")).unwrap();
    let want = recorded("sync-message.json");
    assert_eq!(serde_json::json!(heads_hex(&msg.heads)), want["heads"]);
    assert_eq!(serde_json::json!(heads_hex(&msg.need)), want["need"]);
    assert_eq!(serde_json::json!(msg.changes.len()), want["change_chunks"]);
    assert!(
        !msg.changes.is_empty(),
        "the message carries the edge's edit"
    );

    // the center holds the stored activity and receives the edge's message
    let mut center = load("activity", CENTER_NODE);
    let mut state = State::new();
    center.sync().receive_sync_message(&mut state, msg).unwrap();
    assert_eq!(
        serde_json::json!(heads_hex(&center.get_heads())),
        want["after"]["heads"]
    );
    assert_eq!(doc::to_json(&center).unwrap(), want["after"]["json"]);
}

#[test]
fn old_document_edited_now_converges_with_a_fresh_peer() {
    let mut edge = load("activity", EDGE_NODE);
    let mut a: Activity = doc::get(&edge, &["activity"]).unwrap().unwrap();
    a.place = "叶县某食品有限公司（二号仓库）".into();
    a.items.push(jilu_common::hash::Hash::of(b"item-3"));
    doc::put(&mut edge, &["activity"], &a).unwrap();
    edge.commit();
    let mut peer = AutoCommit::new().with_actor(doc::actor_for(CENTER_NODE));
    // the edge starts from the state it stored with the old release, against a
    // peer that has nothing (a center restored empty)
    let mut se = State::decode(&bytes("sync-state.bin")).unwrap();
    let mut sp = State::new();
    sync_pair(&mut edge, &mut se, &mut peer, &mut sp);
    assert_eq!(peer.get_heads(), edge.get_heads());
    assert_eq!(doc::to_json(&peer).unwrap(), doc::to_json(&edge).unwrap());
    let got: Activity = doc::get(&peer, &["activity"]).unwrap().unwrap();
    assert_eq!(got, a);
    // the peer's copy holds every old change too: the fixture's heads are ancestors
    let old: Vec<_> = load("activity", EDGE_NODE).get_heads();
    assert!(
        peer.get_changes(&old).len() == 1,
        "only the new edit lies beyond the fixture's heads"
    );

    // and the other way: a fresh peer edits, the old document receives it
    let mut b = got.clone();
    b.classification = Some("一般".into());
    doc::put(&mut peer, &["activity"], &b).unwrap();
    peer.commit();
    sync_pair(&mut edge, &mut se, &mut peer, &mut sp);
    assert_eq!(edge.get_heads(), peer.get_heads());
    let back: Activity = doc::get(&edge, &["activity"]).unwrap().unwrap();
    assert_eq!(back, b);
}

#[test]
fn seeded_catalogue_has_the_heads_the_old_release_seeded() {
    let mut now = matter::seed_catalogue().unwrap();
    let want = recorded("catalogue.json");
    assert_eq!(
        serde_json::json!(heads_hex(&now.get_heads())),
        want["heads"],
        "seed_catalogue() must produce the change every node already holds"
    );
    // a store seeded by the old release and a node seeded now merge into one history
    let mut stored = load("catalogue", EDGE_NODE);
    stored.merge(&mut now).unwrap();
    assert_eq!(
        serde_json::json!(heads_hex(&stored.get_heads())),
        want["heads"],
        "merging must add no second seed change"
    );
    assert_eq!(
        doc::get_all::<Matter>(&stored, &["matters"]).unwrap().len(),
        matter::annex().len()
    );
}

/// A rolling upgrade: an edge still on 0.7.4 and a center on this release edit the
/// same stored activity and sync with each other; the protocol converges and both
/// edits survive. What this release saves also loads on 0.7.4 (a rolled-back node).
#[test]
fn a_node_on_automerge_07_and_one_on_this_release_sync_both_ways() {
    use automerge07::sync::SyncDoc as _;
    use jilu_tests::doc07;

    let mut old = automerge07::AutoCommit::load(&bytes("activity.automerge"))
        .unwrap()
        .with_actor(doc07::actor_for(EDGE_NODE));
    let mut new = load("activity", CENTER_NODE);
    let mut a: Activity = doc07::get(&old, &["activity"]).unwrap().unwrap();
    a.place = "叶县某食品有限公司（更正）".into();
    doc07::put(&mut old, &["activity"], &a).unwrap();
    old.commit();
    let mut b: Activity = doc::get(&new, &["activity"]).unwrap().unwrap();
    b.interruptions[0].approval.note = Some("复核同意".into());
    doc::put(&mut new, &["activity"], &b).unwrap();
    new.commit();

    let (mut so, mut sn) = (automerge07::sync::State::new(), State::new());
    let mut rounds = 0;
    loop {
        let to_new = old
            .sync()
            .generate_sync_message(&mut so)
            .map(|m| m.encode());
        let to_old = new
            .sync()
            .generate_sync_message(&mut sn)
            .map(|m| m.encode());
        if to_new.is_none() && to_old.is_none() {
            break;
        }
        rounds += 1;
        assert!(rounds < 64, "sync between releases does not settle");
        if let Some(m) = to_new {
            let m = Message::decode(&m).unwrap();
            new.sync().receive_sync_message(&mut sn, m).unwrap();
        }
        if let Some(m) = to_old {
            let m = automerge07::sync::Message::decode(&m).unwrap();
            old.sync().receive_sync_message(&mut so, m).unwrap();
        }
    }
    let old_heads: Vec<String> = {
        let mut h: Vec<String> = old.get_heads().iter().map(|h| h.to_string()).collect();
        h.sort();
        h
    };
    assert_eq!(old_heads, heads_hex(&new.get_heads()));
    assert_eq!(doc07::to_json(&old).unwrap(), doc::to_json(&new).unwrap());
    let merged: Activity = doc::get(&new, &["activity"]).unwrap().unwrap();
    assert_eq!(merged.place, a.place, "the old release's edit");
    assert_eq!(
        merged.interruptions[0].approval.note, b.interruptions[0].approval.note,
        "this release's edit"
    );

    let mut back = automerge07::AutoCommit::load(&new.save()).unwrap();
    assert_eq!(back.get_heads().len(), new.get_heads().len());
    assert_eq!(doc07::to_json(&back).unwrap(), doc::to_json(&new).unwrap());
}
