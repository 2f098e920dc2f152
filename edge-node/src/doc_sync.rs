//! The edge's side of document sync on the control stream: find which documents
//! differ from the center's through the heads exchange ([`jilu_common::doc_summary`],
//! read from the heads index `jilu_store::heads`, never by loading every
//! document), then run the Automerge sync protocol for each of them.

use std::sync::{Arc, Mutex};

use anyhow::{anyhow, bail, Result};
use automerge::sync::{Message, State, SyncDoc};
use jilu_common::audit::Action;
use jilu_common::codec::{self, MAX_FRAME};
use jilu_common::doc_summary::{self, MAX_PAGE_DOCS};
use jilu_common::subject::Subject;
use jilu_common::sync;
use jilu_common::wire::{Request, Response};
use jilu_store::heads;
use serde_json::json;
use tracing::{debug, warn};

use crate::edge::Edge;
use crate::schema::sync_state_key as state_key;
use crate::store;
use crate::uplink::{blocking, SyncReport};

/// Syncs every document that differs from the center's, then ends the
/// document part of the pass (`DocsDone`).
pub(crate) async fn sync_docs(
    edge: &Arc<Edge>,
    tx: &mut quinn::SendStream,
    rx: &mut quinn::RecvStream,
    report: &Arc<Mutex<SyncReport>>,
) -> Result<()> {
    let names = differing(edge, tx, rx).await?;
    for name in names {
        if !sync::visible_to(&name, &edge.cfg.county) {
            continue;
        }
        let e = edge.clone();
        let n = name.clone();
        let (mut doc, mut state) = blocking(move || {
            let d = e.load_or_new_doc(&n)?;
            let st = match e.store.get(store::META, &state_key(&n))? {
                Some(b) => State::decode(&b).unwrap_or_else(|_| State::new()),
                None => State::new(),
            };
            Ok((d, st))
        })
        .await?;
        let before = doc.get_heads();
        let mut refused = None;
        for _round in 0..64 {
            let msg = doc
                .sync()
                .generate_sync_message(&mut state)
                .map(|m| m.encode());
            // In sync: nothing left to send, and the center's last message showed
            // exactly our heads. Waiting for the center to fall silent as well did
            // not work: it rebuilds its sync state from the shared heads at every
            // message, so it always answers something, and every document that
            // differed ran to the 64-round cap (a synced commit at the center per
            // round: ~30 ms a document, minutes for a first sync of thousands).
            if msg.is_none() && same_heads(state.their_heads.as_deref(), doc.get_heads()) {
                break;
            }
            let sent_something = msg.is_some();
            codec::write(
                tx,
                &Request::DocSync {
                    name: name.clone(),
                    message: msg,
                },
            )
            .await?;
            let answer = codec::read::<Response, _>(rx, MAX_FRAME).await?;
            debug!(doc = %name, "control round trip: DocSync");
            match answer {
                Some(Response::DocSync { message, .. }) => {
                    let got = message.is_some();
                    if let Some(bytes) = message {
                        let m = Message::decode(&bytes).map_err(|e| {
                            anyhow!("malformed sync message from the center for {name}: {e}")
                        })?;
                        doc.sync()
                            .receive_sync_message(&mut state, m)
                            .map_err(|e| anyhow!("sync message for {name} does not apply: {e}"))?;
                    }
                    if !sent_something && !got {
                        break;
                    }
                }
                Some(Response::Refused { reason }) => {
                    warn!(doc = %name, "the center refused our changes: {reason}");
                    refused = Some(reason);
                    break;
                }
                other => bail!("unexpected answer to a document sync: {other:?}"),
            }
        }
        let e = edge.clone();
        let n = name.clone();
        let refusal = refused.clone();
        blocking(move || {
            let after = doc.get_heads();
            let mut t = e.begin();
            if after != before {
                let new = doc.get_changes(&before).len();
                t.put_doc(&n, &mut doc)?;
                t.audit(
                    "center",
                    Action::DocumentMerged,
                    Subject::Doc(n.to_string()),
                    json!({"changes": new}),
                    &[],
                )?;
            }
            if let Some(r) = refusal {
                t.audit(
                    "center",
                    Action::ChangeRefused,
                    Subject::Doc(n.to_string()),
                    json!({"reason": r}),
                    &[],
                )?;
            } else {
                t.put(store::META, &state_key(&n), &state.encode())?;
            }
            t.commit()
        })
        .await?;
        let mut r = report.lock().unwrap_or_else(|p| p.into_inner());
        match refused {
            Some(_) => r.docs_refused.push(name),
            None => r.docs_synced += 1,
        }
    }
    codec::write(tx, &Request::DocsDone).await?;
    Ok(())
}

/// The heads exchange: the names of the documents that differ (or that one side
/// only holds), in key order.
async fn differing(
    edge: &Arc<Edge>,
    tx: &mut quinn::SendStream,
    rx: &mut quinn::RecvStream,
) -> Result<Vec<String>> {
    let e = edge.clone();
    let mine = blocking(move || heads::visible_summary(&e.store, &e.cfg.county)).await?;
    codec::write(tx, &Request::Summary { root: mine.root() }).await?;
    // one line per request/answer pair on the control stream (the benchmark
    // counts them: unchanged documents must take this one round trip only)
    let theirs = match codec::read::<Response, _>(rx, MAX_FRAME).await? {
        Some(Response::Same) => {
            debug!("control round trip: Summary → Same");
            return Ok(Vec::new());
        }
        Some(Response::Buckets { digests }) => digests,
        Some(Response::Refused { reason }) => bail!("the center refused the summary: {reason}"),
        other => bail!("unexpected answer to the summary: {}", kind(&other)),
    };
    let buckets = mine.differing(&theirs)?;
    debug!(
        buckets = buckets.len(),
        "control round trip: Summary → Buckets"
    );
    let mut names = Vec::new();
    let mut after: Option<String> = None;
    while !buckets.is_empty() {
        let (e, b, a) = (edge.clone(), buckets.clone(), after.clone());
        let page = blocking(move || {
            let docs =
                heads::docs_after(&e.store, &e.cfg.county, &b, a.as_deref(), MAX_PAGE_DOCS + 1)?;
            Ok(doc_summary::page(&b, a.as_deref(), docs))
        })
        .await?;
        let sent = page.docs.len();
        codec::write(tx, &Request::HeadsPage(Box::new(page.clone()))).await?;
        let (got, through) = match codec::read::<Response, _>(rx, MAX_FRAME).await? {
            Some(Response::Differ { names, through }) => (names, through),
            Some(Response::Refused { reason }) => {
                bail!("the center refused a heads page: {reason}")
            }
            other => bail!("unexpected answer to a heads page: {}", kind(&other)),
        };
        debug!(
            docs = sent,
            differ = got.len(),
            "control round trip: HeadsPage → Differ"
        );
        after = doc_summary::next_after(&page, &got, through.as_deref())
            .map_err(|e| anyhow!("the center's answer to a heads page: {e}"))?;
        names.extend(got);
        if after.is_none() {
            break;
        }
    }
    Ok(names)
}

/// What an unexpected answer was, for an error line.
fn kind(r: &Option<Response>) -> &'static str {
    r.as_ref().map_or("the end of the stream", Response::kind)
}

/// Whether the heads a peer last announced are `ours` (order does not matter).
fn same_heads(
    theirs: Option<&[automerge::ChangeHash]>,
    mut ours: Vec<automerge::ChangeHash>,
) -> bool {
    theirs.is_some_and(|t| {
        let mut t = t.to_vec();
        t.sort_unstable();
        ours.sort_unstable();
        t == ours
    })
}
