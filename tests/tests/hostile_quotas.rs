#![allow(clippy::unwrap_used)]
//! The hostile-peer suite, part three: the bounds of issue 7 fix 7 tried by a
//! hostile county node: the `[quotas]` refusals (documents, partial_bytes,
//! offers_in_flight), the expiry of an abandoned partial upload (and not of one
//! its node is still offering), and sync state only for documents that exist.
//! Every case ends with [`City::after`].

use std::time::Duration;

use jilu_common::automerge::AutoCommit;
use jilu_common::wire::{Request, Response};
use jilu_store::db::Mode;
use jilu_tests::hostile::{offer_of, template_item, City, Peer, HNODE, HOSTILE};

/// A valid activity document `id` of the hostile county, authored by its node.
fn activity(id: &str) -> AutoCommit {
    let mut d = jilu_common::doc::new_document(jilu_common::doc::actor_for(HNODE)).unwrap();
    let a = jilu_common::activity::Activity {
        id: id.into(),
        matter: "1".into(),
        place: "某企业".into(),
        officers: vec!["1001".into()],
        arrival: 1_790_000_000_000,
        departure: Some(1_790_003_600_000),
        remote: false,
        notice: None,
        annotations: vec![],
        interruptions: vec![],
        items: vec![],
        hold: None,
        classification: None,
    };
    jilu_common::doc::put(&mut d, &["activity"], &a).unwrap();
    d
}

fn refusal(r: &Option<Response>) -> String {
    match r {
        Some(Response::Refused { reason }) => reason.clone(),
        other => panic!("not refused: {other:?}"),
    }
}

#[test]
fn quotas_refuse_documents_partial_bytes_and_offers_in_flight() {
    let mut city =
        City::new("[quotas]\ndocuments = 2\npartial_bytes = 3145728\noffers_in_flight = 1\n");
    let small = city.random(1 << 20);
    let big = city.random(4 << 20);
    let other = city.random(1 << 20);
    let peer = city.peer();
    let (docs, big_answer, second_answer) = city.rt.block_on(async {
        let mut control = peer.hello().await.unwrap();
        let mut docs = Vec::new();
        for id in ["Q-1", "Q-2", "Q-3"] {
            let name = format!("activity/{HOSTILE}/{id}");
            docs.push(
                Peer::push_doc(&mut control, &name, &mut activity(id))
                    .await
                    .unwrap(),
            );
        }
        // 4 MiB of unfinished upload is more than the node's 3 MiB
        let (_s, big_answer) = peer
            .offer(
                &offer_of(&big, &template_item(), HNODE, HOSTILE),
                Duration::from_secs(5),
            )
            .await
            .unwrap();
        // one offer in flight is all the node may have
        let (_held, first) = peer
            .offer(
                &offer_of(&small, &template_item(), HNODE, HOSTILE),
                Duration::from_secs(5),
            )
            .await
            .unwrap();
        assert!(matches!(first, Some(Response::Have { .. })), "{first:?}");
        let (_s2, second) = peer
            .offer(
                &offer_of(&other, &template_item(), HNODE, HOSTILE),
                Duration::from_secs(5),
            )
            .await
            .unwrap();
        (docs, big_answer, second)
    });
    peer.close();
    assert_eq!(docs[0], None, "the first document is within the quota");
    assert_eq!(docs[1], None, "the second document is within the quota");
    let third = docs[2]
        .clone()
        .expect("a third document passed quotas.documents = 2");
    assert!(third.contains("quotas.documents"), "{third}");
    let held = city.center.docs(HOSTILE);
    assert!(held.contains_key(&format!("activity/{HOSTILE}/Q-2")));
    assert!(
        !held.contains_key(&format!("activity/{HOSTILE}/Q-3")),
        "the refused document is stored"
    );
    assert!(
        refusal(&big_answer).contains("quotas.partial_bytes"),
        "{big_answer:?}"
    );
    assert!(
        refusal(&second_answer).contains("quotas.offers_in_flight"),
        "{second_answer:?}"
    );
    city.after(&[]);
}

/// The partial files the center holds, by the hash (hex) they are of.
fn partials(city: &City) -> Vec<String> {
    std::fs::read_dir(city.center.dir.join("data/blobs/partial"))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn an_abandoned_partial_expires_and_one_still_offered_stays() {
    let mut city =
        City::new("[quotas]\npartial_expiry_secs = 2\n[limits]\nstream_timeout_ms = 30000\n");
    let gone = city.random(3 << 20);
    let stays = city.random(3 << 20);
    let (g, s) = (
        offer_of(&gone, &template_item(), HNODE, HOSTILE),
        offer_of(&stays, &template_item(), HNODE, HOSTILE),
    );
    let hex = |o: &jilu_common::wire::Offer| blake3::Hash::from_bytes(o.hash).to_hex().to_string();
    // chunk 0 of each, then the connection ends: both are recorded as partials
    let peer = city.peer();
    city.rt.block_on(async {
        let _control = peer.hello().await.unwrap();
        for (o, data) in [(&g, &gone), (&s, &stays)] {
            let (mut st, first) = peer.offer(o, Duration::from_secs(5)).await.unwrap();
            assert!(matches!(first, Some(Response::Have { .. })), "{first:?}");
            st.send(&Request::Chunk {
                index: 0,
                data: data[..1 << 20].to_vec(),
            })
            .await
            .unwrap();
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    });
    peer.close();
    std::thread::sleep(Duration::from_millis(500));
    let held = partials(&city);
    assert!(held.iter().any(|p| p.starts_with(&hex(&g))), "{held:?}");
    assert!(held.iter().any(|p| p.starts_with(&hex(&s))), "{held:?}");
    // the node comes back and offers one of them again, then falls quiet past the expiry
    let peer = city.peer();
    let verified = city.rt.block_on(async {
        let _control = peer.hello().await.unwrap();
        let (mut st, first) = peer.offer(&s, Duration::from_secs(5)).await.unwrap();
        match &first {
            Some(Response::Have { missing }) => assert_eq!(missing, &vec![(1, 3)], "chunk 0 kept"),
            other => panic!("{other:?}"),
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
        let held = partials(&city);
        assert!(
            !held.iter().any(|p| p.starts_with(&hex(&g))),
            "the abandoned partial is still there: {held:?}"
        );
        assert!(
            held.iter().any(|p| p.starts_with(&hex(&s))),
            "the offered partial expired: {held:?}"
        );
        // and it completes from what was kept
        for i in 1..3usize {
            st.send(&Request::Chunk {
                index: i as u64,
                data: stays[i << 20..(i + 1) << 20].to_vec(),
            })
            .await
            .unwrap();
        }
        st.send(&Request::Done).await.unwrap();
        st.recv(Duration::from_secs(10)).await.unwrap()
    });
    peer.close();
    assert!(
        matches!(verified, Some(Response::Verified { .. })),
        "{verified:?}"
    );
    // the abandoned one starts over: nothing of it was kept
    let peer = city.peer();
    let again = city.rt.block_on(async {
        let _control = peer.hello().await.unwrap();
        peer.offer(&g, Duration::from_secs(5)).await.unwrap().1
    });
    peer.close();
    match again {
        Some(Response::Have { missing }) => assert_eq!(missing, vec![(0, 3)]),
        other => panic!("{other:?}"),
    }
    city.after(&[]);
}

#[test]
fn sync_state_exists_only_for_documents_that_exist() {
    let mut city = City::new("");
    let peer = city.peer();
    city.rt.block_on(async {
        let mut control = peer.hello().await.unwrap();
        // one real document
        let name = format!("activity/{HOSTILE}/S-1");
        assert_eq!(
            Peer::push_doc(&mut control, &name, &mut activity("S-1"))
                .await
                .unwrap(),
            None
        );
        // and 300 names asked for, with and without a (changeless) sync message
        use jilu_common::automerge::sync::{State, SyncDoc};
        let mut empty = AutoCommit::new();
        let hello = empty
            .sync()
            .generate_sync_message(&mut State::new())
            .map(|m| m.encode());
        for i in 0..300 {
            control
                .send(&Request::DocSync {
                    name: format!("activity/{HOSTILE}/N-{i}"),
                    message: if i % 2 == 0 { None } else { hello.clone() },
                })
                .await
                .unwrap();
            let answer = control.recv(Duration::from_secs(5)).await.unwrap();
            assert!(
                matches!(answer, Some(Response::DocSync { .. })),
                "{answer:?}"
            );
        }
    });
    peer.close();
    std::thread::sleep(Duration::from_millis(300));
    // read the center's store beside the running center
    let cfg = center::config::CenterConfig::load(&city.center.config).unwrap();
    let c = center::center::Center::open(cfg, Mode::ReadOnly).unwrap();
    let states: Vec<String> = c
        .journal
        .store
        .scan_prefix(center::schema::SYNCSTATE, format!("{HNODE}\0").as_bytes())
        .unwrap()
        .into_iter()
        .map(|(k, _)| String::from_utf8_lossy(&k[HNODE.len() + 1..]).into_owned())
        .collect();
    let docs = c.journal.doc_names("").unwrap();
    assert!(
        states.iter().all(|s| docs.contains(s)),
        "sync state for a document that does not exist: {states:?}"
    );
    assert_eq!(states, vec![format!("activity/{HOSTILE}/S-1")]);
    drop(c);
    city.after(&[]);
}
