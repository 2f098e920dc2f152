#![allow(clippy::unwrap_used)]
//! The center against a hostile county node: a client with a valid edge
//! certificate of its own county ([`jilu_tests::hostile::Peer`]) that speaks Jilu's
//! codec over mTLS QUIC and sends what a compromised or broken node might. After
//! every case ([`City::after`]): the center is up, its memory and disk stay
//! bounded, nothing the case sent is stored, listed or recorded as custody, the
//! log has no line over 4 KiB and no forged line, and a legitimate edge of another
//! county still syncs promptly and its items verify.

use std::time::{Duration, Instant};

use jilu_common::wire::{Request, Response};
use jilu_tests::hostile::{self, offer_of, template_item, City, Peer, HNODE, HOSTILE, OWNER};

/// Case 1: a node of another county offers a hash `center items` lists, with
/// `cvs = [hash]` and a wrong size (and then the right size), without a byte of
/// the item. It must not be answered `Verified` or recorded as a holder.
#[test]
fn case1_custody_is_never_claimed_from_a_hash_alone() {
    let mut city = City::new("");
    let hash = city.ingest(40_044);
    city.owner.sync_once();
    assert!(city.item(&hash).is_some());
    let peer = city.peer();
    let raw: [u8; 32] = blake3::Hash::from_hex(&hash).unwrap().into();
    let _control = city.rt.block_on(peer.hello()).unwrap();
    for size in [5u64, 40_044] {
        let offer = jilu_common::wire::Offer {
            hash: raw,
            size,
            cvs: vec![raw],
            item: hostile::item_like(&template_item(), &hash, size, HNODE, HOSTILE),
        };
        let answer = city.rt.block_on(async {
            let (mut s, first) = peer.offer(&offer, Duration::from_secs(5)).await.unwrap();
            // a proof of possession it cannot give: a made-up answer
            if let Some(Response::Prove { .. }) = first {
                s.send(&Request::Proof { mac: [7u8; 32] }).await.unwrap();
                s.recv(Duration::from_secs(5)).await.unwrap_or(None)
            } else {
                first
            }
        });
        assert!(
            !matches!(answer, Some(Response::Verified { .. })),
            "size {size}: a node that sent no byte was told the item is verified"
        );
        assert!(
            city.hostile_custody().is_empty(),
            "size {size}: the hostile node is recorded as a holder"
        );
    }
    peer.close();
    city.after(&[]);
}

/// Case 1b: a node that really holds the bytes proves it and is recorded; a
/// replay of its proof to a new challenge is refused.
#[test]
fn case1_a_node_that_holds_the_bytes_proves_it() {
    let mut city = City::new("");
    let hash = city.ingest(2_500_000);
    city.owner.sync_once();
    let bytes = city.owner.export(&hash);
    assert_eq!(blake3::hash(&bytes).to_hex().as_str(), hash);
    let peer = city.peer();
    let offer = offer_of(&bytes, &template_item(), HNODE, HOSTILE);
    let prove = |nonce: &[u8; 32], chunks: &[u64]| {
        jilu_common::holder::proof(nonce, chunks, |i| {
            let from = i as usize * jilu_common::chunk_tree::CHUNK_SIZE;
            let to = (from + jilu_common::chunk_tree::CHUNK_SIZE).min(bytes.len());
            Some(bytes[from..to].to_vec())
        })
        .unwrap()
    };
    let (replayed, proved) = city.rt.block_on(async {
        let _control = peer.hello().await.unwrap();
        // first a stale answer: the proof for another nonce
        let (mut s, first) = peer.offer(&offer, Duration::from_secs(5)).await.unwrap();
        let Some(Response::Prove { nonce, chunks }) = first else {
            panic!("no challenge: {first:?}")
        };
        let mut other = nonce;
        other[0] ^= 1;
        let stale = prove(&other, &jilu_common::holder::challenge_chunks(&other, 3));
        s.send(&Request::Proof { mac: stale }).await.unwrap();
        let replayed = s.recv(Duration::from_secs(5)).await.unwrap();
        let _ = chunks;
        // then the right one
        let (mut s, first) = peer.offer(&offer, Duration::from_secs(5)).await.unwrap();
        let Some(Response::Prove { nonce, chunks }) = first else {
            panic!("no challenge: {first:?}")
        };
        s.send(&Request::Proof {
            mac: prove(&nonce, &chunks),
        })
        .await
        .unwrap();
        (replayed, s.recv(Duration::from_secs(5)).await.unwrap())
    });
    assert!(
        matches!(replayed, Some(Response::Refused { .. })),
        "{replayed:?}"
    );
    assert!(
        matches!(proved, Some(Response::Verified { .. })),
        "{proved:?}"
    );
    assert_eq!(city.hostile_custody(), vec![hash]);
    peer.close();
    city.after(&[]);
}

/// Case 2: a node takes the receive lock of a hash another county ingested but
/// has not uploaded yet, and keeps its stream open. The owner's upload must not
/// wait for it.
#[test]
fn case2_no_node_delays_another_countys_upload() {
    let mut city = City::new("");
    let hash = city.ingest(40_044);
    let raw: [u8; 32] = blake3::Hash::from_hex(&hash).unwrap().into();
    let peer = city.peer();
    let offer = jilu_common::wire::Offer {
        hash: raw,
        size: 40_044,
        cvs: vec![raw],
        item: hostile::item_like(&template_item(), &hash, 40_044, HNODE, HOSTILE),
    };
    let (_control, _held, first) = city.rt.block_on(async {
        let control = peer.hello().await.unwrap();
        let (s, first) = peer.offer(&offer, Duration::from_secs(5)).await.unwrap();
        (control, s, first)
    });
    eprintln!("the hostile offer was answered {first:?}; its stream stays open");
    let started = Instant::now();
    let report = city.owner.sync_once();
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "the owner's sync took {took:?} behind another county's open offer"
    );
    assert_eq!(report["items_verified"], 1, "{report}");
    let item = city.item(&hash).unwrap();
    assert_eq!(item["origin"], format!("edge-{OWNER}"));
    assert!(city.hostile_custody().is_empty());
    peer.close();
    city.after(&[]);
}

/// Case 3: item streams on a connection whose Hello was never sent, was refused
/// for its version, or whose control stream died on a malformed frame.
#[test]
fn case3_no_item_stream_before_an_accepted_hello() {
    let mut city = City::new("");
    for variant in ["no hello", "wrong version", "malformed control frame"] {
        let data = city.random(300_000);
        let offer = offer_of(&data, &template_item(), HNODE, HOSTILE);
        let peer = city.peer();
        let answer = city.rt.block_on(async {
            let mut control = peer.open().await.unwrap();
            match variant {
                "no hello" => {}
                "wrong version" => {
                    control
                        .send(&Request::Hello {
                            version: 999,
                            software: "x".into(),
                        })
                        .await
                        .unwrap();
                }
                _ => {
                    control
                        .raw(&[0, 0, 0, 8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])
                        .await
                        .unwrap();
                }
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
            let answer = peer.upload(&offer, &data, Duration::from_secs(5)).await;
            (control, answer)
        });
        let hash = blake3::Hash::from_bytes(offer.hash).to_hex().to_string();
        assert!(
            !matches!(answer.1, Ok(Some(Response::Verified { .. }))),
            "{variant}: an upload without an accepted Hello was verified"
        );
        assert!(city.item(&hash).is_none(), "{variant}: the item is listed");
        peer.close();
    }
    city.after(&[]);
}

/// Case 6: a county writes its own activity document with an `activity` record of
/// the wrong shape. It is refused with the reason, nothing is stored, and the
/// bureau's `center activities` still lists every other county's activities.
#[test]
fn case6_a_malformed_document_is_refused_and_reads_stay_robust() {
    let mut city = City::new("");
    city.owner.sync_once();
    let peer = city.peer();
    let name = format!("activity/{HOSTILE}/X-1");
    let refusal = city.rt.block_on(async {
        let mut control = peer.hello().await.unwrap();
        let mut d = jilu_common::doc::new_document(jilu_common::doc::actor_for(HNODE)).unwrap();
        jilu_common::doc::put(&mut d, &["activity"], &serde_json::json!({"id": 5})).unwrap();
        Peer::push_doc(&mut control, &name, &mut d).await.unwrap()
    });
    peer.close();
    let reason = refusal.expect("the malformed document was accepted");
    assert!(reason.contains("activity"), "{reason}");
    assert!(
        !city.center.docs(HOSTILE).contains_key(&name),
        "the malformed document is stored"
    );
    let out = city.center.run(&["--json", "activities"]);
    assert!(out.status.success(), "{}", jilu_tests::text(&out));
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(listed.contains("\"A-1\""), "{listed}");
    city.after(&[]);
}
