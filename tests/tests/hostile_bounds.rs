#![allow(clippy::unwrap_used)]
//! The hostile-peer suite, part two: what a hostile county node can make the
//! center log, store and hold (cases 4, 5, 7, 9 and the received-bytes count).
//! Every case ends with [`City::after`] (center up, bounded, clean log, another
//! county still syncs).

use std::time::Duration;

use jilu_common::wire::{Request, Response};
use jilu_tests::hostile::{offer_of, template_item, City, HNODE, HOSTILE};

/// Case 4: a 1 MiB chunk on the control stream and 2 MiB offers, over twenty
/// connections: the log holds kinds and sizes, never payloads.
#[test]
fn case4_malformed_messages_are_logged_by_kind_and_size() {
    let mut city = City::new("");
    for _ in 0..20 {
        let peer = city.peer();
        city.rt.block_on(async {
            let mut control = peer.hello().await.unwrap();
            control
                .send(&Request::Chunk {
                    index: 0,
                    data: vec![b'A'; 1 << 20],
                })
                .await
                .unwrap();
            let mut s = peer.open().await.unwrap();
            let data = vec![0u8; 10];
            let mut offer = offer_of(&data, &template_item(), HNODE, HOSTILE);
            offer.cvs = vec![[b'B'; 32]; 60_000];
            let _ = s.send(&Request::Offer(Box::new(offer))).await;
            let _ = s.recv(Duration::from_secs(3)).await;
        });
        peer.close();
    }
    let log = jilu_tests::hostile::read_log(city.center.log.as_ref().unwrap());
    assert!(log.bytes < 256 << 10, "{} bytes of log", log.bytes);
    city.after(&[]);
}

/// Case 5: newlines and NUL bytes in a Hello's software string and in document
/// names forge no log line, and reach `last_refusal` escaped.
#[test]
fn case5_peer_strings_forge_no_log_line() {
    let mut city = City::new("");
    let peer = city.peer();
    let forged = "FORGED";
    city.rt.block_on(async {
        let (mut control, answer) = peer
            .hello_version(
                jilu_common::wire::PROTOCOL_VERSION,
                &format!("x\n{forged} INFO center: all good\0\r\n{forged} WARN"),
            )
            .await
            .unwrap();
        assert!(matches!(answer, Some(Response::Welcome { .. })));
        control
            .send(&Request::DocSync {
                name: format!("activity/{HOSTILE}/a\n{forged} WARN doc\0"),
                message: None,
            })
            .await
            .unwrap();
        let answer = control.recv(Duration::from_secs(5)).await.unwrap();
        assert!(
            matches!(answer, Some(Response::Refused { .. })),
            "{answer:?}"
        );
    });
    peer.close();
    std::thread::sleep(Duration::from_millis(300));
    let edges = city.center.json(&["edges"]);
    let me = edges.iter().find(|e| e["node"] == HNODE).unwrap();
    let refusal = me["last_refusal"].as_str().unwrap();
    assert!(
        !refusal.contains('\n') && !refusal.contains('\0'),
        "{refusal:?}"
    );
    city.after(&[forged]);
}

/// Case 7: names outside the grammar, 1,000 requests for new names, and 500
/// connections store (almost) nothing.
#[test]
fn case7_junk_is_not_stored_without_bound() {
    let mut city = City::new("");
    let entries = |city: &City| {
        let out = city.center.run(&["audit-verify"]);
        let text = jilu_tests::text(&out);
        text.split_whitespace()
            .filter_map(|w| w.parse::<u64>().ok())
            .next()
            .unwrap()
    };
    let before = entries(&city);
    let peer = city.peer();
    let refused = city.rt.block_on(async {
        let mut control = peer.hello().await.unwrap();
        let mut refused = 0;
        for name in [
            format!("activity/{HOSTILE}/.."),
            format!("activity/{HOSTILE}/a/b"),
        ] {
            control
                .send(&Request::DocSync {
                    name,
                    message: None,
                })
                .await
                .unwrap();
            if let Some(Response::Refused { .. }) =
                control.recv(Duration::from_secs(5)).await.unwrap()
            {
                refused += 1;
            }
        }
        for i in 0..1000 {
            control
                .send(&Request::DocSync {
                    name: format!("activity/{HOSTILE}/N-{i}"),
                    message: None,
                })
                .await
                .unwrap();
            control.recv(Duration::from_secs(5)).await.unwrap();
        }
        refused
    });
    peer.close();
    assert_eq!(refused, 2, "names outside the grammar were accepted");
    for _ in 0..100 {
        let p = city.peer();
        city.rt.block_on(async {
            let _ = p.hello().await;
        });
        p.close();
    }
    std::thread::sleep(Duration::from_millis(500));
    let after = entries(&city);
    assert!(
        after - before < 20,
        "{} audit entries for 101 connections and 1,002 names",
        after - before
    );
    assert!(city.center.docs(HOSTILE).keys().all(|n| !n.contains("N-")));
    city.after(&[]);
}

/// Case 9: a peer that answers keep-alives but sends nothing loses its streams
/// within the stream timeout; its lock is released, and what it sent is kept.
/// Chunks sent twice are counted once in `bytes_received`.
#[test]
fn case9_a_silent_peer_is_closed_and_duplicates_are_not_counted() {
    let mut city = City::new("[limits]\nstream_timeout_ms = 1500\n");
    let data = city.random(3 << 20);
    let offer = offer_of(&data, &template_item(), HNODE, HOSTILE);
    let peer = city.peer();
    let closed = city.rt.block_on(async {
        let _control = peer.hello().await.unwrap();
        let (mut s, first) = peer.offer(&offer, Duration::from_secs(5)).await.unwrap();
        assert!(matches!(first, Some(Response::Have { .. })), "{first:?}");
        // chunk 0 twice, then silence
        for _ in 0..2 {
            s.send(&Request::Chunk {
                index: 0,
                data: data[..1 << 20].to_vec(),
            })
            .await
            .unwrap();
        }
        tokio::time::timeout(Duration::from_secs(10), peer.conn.closed())
            .await
            .is_ok()
    });
    assert!(closed, "the center kept a silent connection open");
    // the same node again: its lock is free and chunk 0 was kept
    let peer = city.peer();
    let answer = city.rt.block_on(async {
        let _control = peer.hello().await.unwrap();
        peer.upload(&offer, &data, Duration::from_secs(5))
            .await
            .unwrap()
    });
    assert!(
        matches!(answer, Some(Response::Verified { .. })),
        "{answer:?}"
    );
    peer.close();
    std::thread::sleep(Duration::from_millis(300));
    let edges = city.center.json(&["edges"]);
    let me = edges.iter().find(|e| e["node"] == HNODE).unwrap();
    assert_eq!(me["bytes_received"], data.len() as u64, "{me}");
    city.after(&[]);
}
