//! One edge's connection: the control stream (hello, document sync, queue
//! reports) and one stream per uploaded item, served only after the Hello was
//! accepted. Every read has an application-level timeout, every refusal is
//! logged at a bounded rate, by kind and size, with peer strings escaped. Frames are decoded with limits
//! ([`jilu_common::codec`]); every decision is [`Center`]'s, run off the reactor.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use jilu_certs::identity::Identity;
use jilu_common::chunk_tree::CHUNK_SIZE;
use jilu_common::codec::{self, CodecError, MAX_FRAME};
use jilu_common::log_escape::escape;
use jilu_common::transfer::Receiver;
use jilu_common::wire::{Offer, Request, Response, PROTOCOL_VERSION};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::center::{Center, OfferOutcome};
use crate::refusals::{Note, Reason};
use jilu_store::journal::now_ms;

/// Control frames are small; chunks are the only large frames.
const CONTROL_LIMIT: usize = MAX_FRAME;

/// How long a closed connection's streams get to finish what they were doing (a
/// flush, or the final re-hash of a large item) before they are aborted.
const STREAMS_END: std::time::Duration = std::time::Duration::from_secs(30);

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| anyhow!("a store task failed: {e}"))?
}

/// Whether the connection's Hello was accepted: nothing but the control stream is
/// served before it is (see [`jilu_common::wire`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gate {
    /// no Hello yet
    Waiting,
    /// Hello accepted, control stream alive
    Open,
    /// Hello refused or never sent, or the control stream ended or failed
    Closed,
}

/// What the streams of one connection share.
#[derive(Clone)]
struct Conn {
    center: Arc<Center>,
    peer: Identity,
    conn: quinn::Connection,
    gate: tokio::sync::watch::Receiver<Gate>,
    /// item streams open on this connection (the control stream may be silent while any is)
    items: Arc<AtomicUsize>,
    /// no progress on a stream for this long closes it (`limits.stream_timeout_ms`)
    timeout: Duration,
}

/// Serves a connection until the peer leaves, the center shuts down or the
/// connection is closed (revocation).
pub async fn serve(
    center: Arc<Center>,
    conn: quinn::Connection,
    peer: Identity,
    cancel: CancellationToken,
) {
    let p = peer.clone();
    let c = center.clone();
    let _ = blocking(move || {
        c.update_peer(&p, |r| {
            r.connected = true;
            r.sessions += 1;
        })
    })
    .await;
    let (gate_tx, gate) = tokio::sync::watch::channel(Gate::Waiting);
    let shared = Conn {
        center: center.clone(),
        peer: peer.clone(),
        conn: conn.clone(),
        gate,
        items: Arc::default(),
        timeout: Duration::from_millis(u64::from(center.cfg.limits.stream_timeout_ms.max(100))),
    };
    let mut gate_tx = Some(gate_tx);
    let mut tasks = tokio::task::JoinSet::new();
    let mut shutting_down = false;
    loop {
        let stream = tokio::select! {
            _ = cancel.cancelled() => {
                shutting_down = true;
                break;
            }
            s = conn.accept_bi() => s,
            // a connection that opens nothing holds a slot for nothing
            _ = tokio::time::sleep(shared.timeout), if gate_tx.is_some() => {
                refused(&shared, Reason::NoHello, "connection", "no control stream within the stream timeout").await;
                conn.close(quinn::VarInt::from_u32(4), b"no Hello");
                break;
            }
        };
        let (send, recv) = match stream {
            Ok(s) => s,
            Err(e) => {
                debug!(node = %peer.node, "connection ended: {e}");
                break;
            }
        };
        let c = shared.clone();
        if let Some(gate_tx) = gate_tx.take() {
            tasks.spawn(async move {
                let result = control(&c, send, recv, &gate_tx).await;
                gate_tx.send_replace(Gate::Closed);
                if let Err(e) = result {
                    if let Some(why) = c.conn.close_reason() {
                        // the connection ended (the edge left, a cut): not a refusal
                        debug!(node = %c.peer.node, "control stream ended with the connection: {why}");
                        return;
                    }
                    refused(&c, Reason::Control, "control stream", &format!("{e:#}")).await;
                    // no item stream may outlive a control stream that failed
                    c.conn
                        .close(quinn::VarInt::from_u32(4), b"control stream failed");
                }
            });
        } else {
            tasks.spawn(async move {
                if let Err(e) = gated_item_stream(&c, send, recv).await {
                    match c.conn.close_reason() {
                        Some(why) => debug!(node = %c.peer.node, "item stream ended with the connection: {why}"),
                        None => refused(&c, Reason::Stream, "item stream", &format!("{e:#}")).await,
                    }
                }
            });
        }
    }
    // The connection ended (the edge left, or a cut outlasted the idle timeout):
    // every stream fails at its next read and `item_stream` then makes durable and
    // records the chunks it received since its last periodic flush. Let the streams
    // get there. Aborting them at once (as `shutdown` does) raced that flush and
    // usually won: after every cut the center forgot up to `sync_every_chunks - 1`
    // chunks it had written, and the edge sent them again.
    if !shutting_down {
        let drain = async { while tasks.join_next().await.is_some() {} };
        let _ = tokio::time::timeout(STREAMS_END, drain).await;
    }
    tasks.shutdown().await;
    let p = peer.clone();
    let _ = blocking(move || center.update_peer(&p, |r| r.connected = false)).await;
}

/// A refusal or failure caused by a peer: logged at a bounded rate per peer
/// ([`crate::refusals`]), with the reason (already escaped, kind and size only),
/// and kept as the peer's `last_refusal`.
async fn refused(c: &Conn, why: Reason, what: &str, reason: &str) {
    let reason = escape(reason);
    match c.center.refusals.note(&c.peer.node, why, now_ms()) {
        Note::Log { suppressed, total } => {
            warn!(node = %c.peer.node, suppressed, total, "{what}: {reason}");
            let (center, peer) = (c.center.clone(), c.peer.clone());
            let _ = blocking(move || {
                center.update_peer(&peer, |r| {
                    r.last_refusal = Some(reason);
                    r.refusals = total;
                })
            })
            .await;
        }
        Note::Quiet => {}
    }
}

async fn send(s: &mut quinn::SendStream, r: &Response) -> Result<()> {
    codec::write(s, r).await?;
    Ok(())
}

/// Reads the next frame, failing when none comes within the stream timeout.
async fn next(
    rx: &mut quinn::RecvStream,
    limit: usize,
    timeout: Duration,
) -> Result<Option<(Request, usize)>> {
    match tokio::time::timeout(timeout, codec::read_sized::<Request, _>(rx, limit)).await {
        Ok(r) => Ok(r?),
        Err(_) => bail!("no progress for {} ms: stream closed", timeout.as_millis()),
    }
}

async fn control(
    c: &Conn,
    mut tx: quinn::SendStream,
    mut rx: quinn::RecvStream,
    gate: &tokio::sync::watch::Sender<Gate>,
) -> Result<()> {
    let (center, peer) = (&c.center, &c.peer);
    match next(&mut rx, CONTROL_LIMIT, c.timeout).await? {
        Some((Request::Hello { version, software }, _)) if version == PROTOCOL_VERSION => {
            info!(node = %peer.node, county = %peer.county, software = %escape(&software), "edge connected");
            send(
                &mut tx,
                &Response::Welcome {
                    version,
                    center: center.cfg.node.clone(),
                    node: peer.node.clone(),
                    county: peer.county.clone(),
                },
            )
            .await?;
            gate.send_replace(Gate::Open);
        }
        Some((Request::Hello { version, .. }, _)) => {
            send(&mut tx, &Response::Refused { reason: format!("protocol version {version} is not supported; this center speaks {PROTOCOL_VERSION}") }).await?;
            bail!("protocol version {version} refused");
        }
        other => {
            let _ = send(
                &mut tx,
                &Response::Refused {
                    reason: "the first message must be Hello".into(),
                },
            )
            .await;
            match other {
                Some((m, size)) => bail!("expected Hello, got {} ({size} bytes)", m.kind()),
                None => bail!("the control stream ended before Hello"),
            }
        }
    }
    loop {
        let req = match next(&mut rx, CONTROL_LIMIT, c.timeout).await {
            Ok(Some((req, _))) => req,
            Ok(None) => break,
            // a frame over the limit or that does not decode: say why, then end
            // (the stream is out of step with its frames)
            Err(e)
                if matches!(
                    e.downcast_ref::<CodecError>(),
                    Some(CodecError::TooLarge(..) | CodecError::Malformed(_))
                ) =>
            {
                let reason = format!("a control message is refused: {e:#}");
                let _ = send(&mut tx, &Response::Refused { reason }).await;
                let _ = tx.finish();
                return Err(e);
            }
            // a silent control stream is normal while items upload
            Err(_) if c.items.load(Ordering::Relaxed) > 0 => continue,
            Err(e) => return Err(e),
        };
        match req {
            Request::Summary { root } => {
                let (c2, p) = (center.clone(), peer.clone());
                let answer = match blocking(move || c2.summary_for(&p, &root)).await? {
                    None => Response::Same,
                    Some(digests) => Response::Buckets { digests },
                };
                send(&mut tx, &answer).await?;
            }
            Request::HeadsPage(page) => {
                let (c2, p) = (center.clone(), peer.clone());
                match blocking(move || c2.answer_page(&p, &page)).await {
                    Ok(a) => {
                        let answer = Response::Differ {
                            names: a.names,
                            through: a.through,
                        };
                        send(&mut tx, &answer).await?;
                    }
                    Err(e) => {
                        let reason = escape(&format!("{e:#}"));
                        refused(c, Reason::Control, "heads page", &reason).await;
                        send(&mut tx, &Response::Refused { reason }).await?;
                    }
                }
            }
            Request::DocSync { name, message } => {
                let (c2, p, n) = (center.clone(), peer.clone(), name.clone());
                let reply = blocking(move || c2.sync_doc(&p, &n, message.as_deref())).await;
                match reply {
                    Ok(message) => send(&mut tx, &Response::DocSync { name, message }).await?,
                    Err(e) => {
                        let reason = escape(&format!("{e:#}"));
                        refused(c, Reason::Document, "document refused", &reason).await;
                        send(&mut tx, &Response::Refused { reason }).await?;
                    }
                }
            }
            Request::DocsDone => {}
            Request::Queue { items, bytes } => {
                let (c2, p) = (center.clone(), peer.clone());
                blocking(move || {
                    c2.update_peer(&p, |r| {
                        r.pending_items = items;
                        r.pending_bytes = bytes;
                    })
                })
                .await?;
            }
            other => {
                send(
                    &mut tx,
                    &Response::Refused {
                        reason: "unexpected message on the control stream".into(),
                    },
                )
                .await?;
                bail!("unexpected {} on the control stream", other.kind());
            }
        }
    }
    // the edge finished: end ours too, so it knows every report was taken in
    let _ = tx.finish();
    Ok(())
}

/// An item stream waits for the connection's Hello to be accepted, and is
/// refused if it is not.
async fn gated_item_stream(
    c: &Conn,
    mut tx: quinn::SendStream,
    rx: quinn::RecvStream,
) -> Result<()> {
    let mut gate = c.gate.clone();
    let open = tokio::time::timeout(c.timeout, gate.wait_for(|g| *g != Gate::Waiting))
        .await
        .ok()
        .and_then(|r| r.ok().map(|g| *g));
    if open != Some(Gate::Open) {
        let _ = send(
            &mut tx,
            &Response::Refused {
                reason: "no Hello was accepted on this connection".into(),
            },
        )
        .await;
        let _ = tx.finish();
        bail!("an item stream before an accepted Hello");
    }
    c.items.fetch_add(1, Ordering::Relaxed);
    let r = item_stream(c, tx, rx).await;
    c.items.fetch_sub(1, Ordering::Relaxed);
    r
}

/// Answers `Refused` on an item stream, logs it (bounded) and audits it (bounded:
/// only the refusals that are logged, with the count of those that were not).
async fn refuse_item(c: &Conn, tx: &mut quinn::SendStream, reason: String) -> Result<()> {
    let reason = escape(&reason);
    if let Note::Log { suppressed, .. } =
        c.center
            .refusals
            .note(&c.peer.node, Reason::Offer, now_ms())
    {
        warn!(node = %c.peer.node, suppressed, "offer refused: {reason}");
        let (center, p, r) = (c.center.clone(), c.peer.clone(), reason.clone());
        let _ = blocking(move || {
            center.update_peer(&p, |rec| {
                rec.last_refusal = Some(r.clone());
                rec.refusals += 1 + suppressed;
            })?;
            let mut t = center.journal.begin();
            t.audit(
                &p.node,
                jilu_common::audit::Action::ChangeRefused,
                "offer",
                serde_json::json!({"reason": r, "not_logged_before": suppressed}),
                &[],
            )?;
            t.commit()
        })
        .await;
    }
    send(tx, &Response::Refused { reason }).await?;
    let _ = tx.finish();
    Ok(())
}

/// Receives one item: offer, missing ranges, verified chunks, completion.
async fn item_stream(c: &Conn, mut tx: quinn::SendStream, mut rx: quinn::RecvStream) -> Result<()> {
    let (center, peer) = (&c.center, &c.peer);
    let offer: Offer = match next(&mut rx, MAX_FRAME, c.timeout).await? {
        Some((Request::Offer(o), _)) => *o,
        other => {
            let _ = send(
                &mut tx,
                &Response::Refused {
                    reason: "an item stream must start with an offer".into(),
                },
            )
            .await;
            match other {
                Some((m, size)) => bail!("expected an offer, got {} ({size} bytes)", m.kind()),
                None => bail!("the item stream ended before an offer"),
            }
        }
    };
    let _slot = match center
        .usage
        .offer(&peer.node, center.cfg.quotas.offers_in_flight)
    {
        Ok(s) => s,
        Err(e) => return refuse_item(c, &mut tx, format!("{e:#}")).await,
    };
    let started = Instant::now();
    // held until this stream's chunks are durable and recorded (see `ItemLocks`);
    // a stream of a dead connection ends within the idle timeout, a silent one
    // within the stream timeout
    let wait = Duration::from_millis(u64::from(center.cfg.limits.idle_timeout_ms)).min(c.timeout);
    let _receiving = center
        .receiving
        .lock(&offer.hash, &peer.node, wait + STREAMS_END)
        .await;
    let (c2, p, o) = (center.clone(), peer.clone(), offer.clone());
    let mut receiver = match blocking(move || c2.offer(&p, &o)).await {
        Ok(OfferOutcome::Verified { at }) => {
            send(
                &mut tx,
                &Response::Verified {
                    at,
                    center: center.cfg.node.clone(),
                },
            )
            .await?;
            let _ = tx.finish();
            return Ok(());
        }
        Ok(OfferOutcome::Prove { nonce, chunks }) => {
            send(&mut tx, &Response::Prove { nonce, chunks }).await?;
            let mac = match next(&mut rx, CONTROL_LIMIT, c.timeout).await? {
                Some((Request::Proof { mac }, _)) => mac,
                Some((m, size)) => {
                    return refuse_item(
                        c,
                        &mut tx,
                        format!(
                            "expected a proof of possession, got {} ({size} bytes)",
                            m.kind()
                        ),
                    )
                    .await
                }
                None => bail!("the item stream ended before a proof of possession"),
            };
            let (c2, p, h) = (center.clone(), peer.clone(), offer.hash);
            return match blocking(move || c2.prove(&p, &h, &nonce, &mac)).await {
                Ok(at) => {
                    info!(node = %peer.node, item = %blake3::Hash::from_bytes(offer.hash).to_hex(), "holder proved possession");
                    send(
                        &mut tx,
                        &Response::Verified {
                            at,
                            center: center.cfg.node.clone(),
                        },
                    )
                    .await?;
                    let _ = tx.finish();
                    Ok(())
                }
                Err(e) => refuse_item(c, &mut tx, format!("{e:#}")).await,
            };
        }
        Ok(OfferOutcome::Receive(r)) => r,
        Err(e) => return refuse_item(c, &mut tx, format!("{e:#}")).await,
    };
    let hex = blake3::Hash::from_bytes(offer.hash).to_hex();
    send(
        &mut tx,
        &Response::Have {
            missing: receiver.missing(),
        },
    )
    .await?;
    let sync_every = center.cfg.limits.sync_every_chunks.max(1) as usize;
    // the disk side runs beside this loop: see `disk_stage`
    let queue = (center.cfg.limits.stream_window as usize / CHUNK_SIZE).max(2);
    let (to_disk, disk_rx) = tokio::sync::mpsc::channel(queue);
    let disk = tokio::spawn(disk_stage(
        center.clone(),
        peer.node.clone(),
        receiver.clone(),
        disk_rx,
        sync_every,
    ));
    // bytes of chunks new to the center (a duplicate or a replay is not counted)
    let mut received = 0u64;
    let result: Result<()> = async {
        loop {
            let Some((req, size)) = next(&mut rx, MAX_FRAME, c.timeout).await? else { return Ok(()) };
            match req {
                Request::Chunk { index, data } => match receiver.check(index, &data) {
                    jilu_common::transfer::Verdict::Accept => {
                        received += data.len() as u64;
                        receiver.take(index);
                        if to_disk.send(ToDisk::Chunk(index, data)).await.is_err() {
                            bail!("the disk side of the item stream stopped");
                        }
                    }
                    jilu_common::transfer::Verdict::Duplicate => {}
                    jilu_common::transfer::Verdict::Reject => {
                        warn!(node = %peer.node, item = %hex, index, "chunk does not match its hash: asked again");
                        send(&mut tx, &Response::ChunkRejected { index }).await?;
                    }
                    jilu_common::transfer::Verdict::OutOfRange => bail!("chunk {index} is out of range"),
                },
                Request::Done => {
                    // everything sent so far durable and recorded, then decide
                    let (done, durable) = tokio::sync::oneshot::channel();
                    if to_disk.send(ToDisk::Flush(done)).await.is_err() {
                        bail!("the disk side of the item stream stopped");
                    }
                    receiver = durable.await.map_err(|_| anyhow!("the disk side of the item stream stopped"))??;
                    if receiver.is_complete() {
                        let (c2, p, r, o) = (center.clone(), peer.clone(), (*receiver).clone(), offer.clone());
                        let at = blocking(move || c2.complete(&p, &r, &o)).await?;
                        let secs = started.elapsed().as_secs_f64().max(1e-3);
                        let (c2, p) = (center.clone(), peer.clone());
                        blocking(move || {
                            c2.update_peer(&p, |rec| {
                                rec.items_verified += 1;
                                rec.recent_rate = received as f64 / secs;
                            })
                        })
                        .await?;
                        info!(node = %peer.node, item = %hex, bytes = received, "verified at center");
                        send(&mut tx, &Response::Verified { at, center: center.cfg.node.clone() }).await?;
                        let _ = tx.finish();
                        return Ok(());
                    }
                    send(&mut tx, &Response::Have { missing: receiver.missing() }).await?;
                }
                other => bail!("unexpected {} ({size} bytes) on an item stream", other.kind()),
            }
        }
    }
    .await;
    // whatever happened, keep what verified and reached the disk: the disk side
    // makes durable and records what it was given, then ends
    drop(to_disk);
    let disk = disk
        .await
        .map_err(|e| anyhow!("the disk side of the item stream failed: {e}"))
        .and_then(|r| r);
    let (c2, p) = (center.clone(), peer.clone());
    let _ = blocking(move || c2.update_peer(&p, |rec| rec.bytes_received += received)).await;
    // a failure of the disk side is the reason the network side stopped
    result.and(disk.map(|_| ()))
}

/// What the network side of an item stream hands to its disk side.
enum ToDisk {
    /// a chunk that verified against its chaining value
    Chunk(u64, Vec<u8>),
    /// make every chunk handed over so far durable and recorded; answer with the
    /// receive state as recorded
    Flush(tokio::sync::oneshot::Sender<Result<Box<Receiver>>>),
}

/// The disk side of an item stream: writes the verified chunks it is handed,
/// fsyncs them at least every `sync_every` chunks and only then records them as
/// held ([`flush`]), in its own copy of the receive state. It runs beside the
/// network side, so reading and checking the next chunks overlaps with writing and
/// fsyncing the previous ones; one after the other, the stream stood still during
/// every write and fsync (flow control fills while the center does not read) and
/// a 1 GiB sync ran at under half the speed of a raw quinn transfer
/// (`jilu-bench-sync`). The queue between them is bounded (about one stream
/// window of chunks), so memory per stream stays bounded too. When the network
/// side hangs up, whatever the reason, what was handed over is still made durable
/// and recorded before the stage ends.
async fn disk_stage(
    center: Arc<Center>,
    node: String,
    mut receiver: Box<Receiver>,
    mut chunks: tokio::sync::mpsc::Receiver<ToDisk>,
    sync_every: usize,
) -> Result<Box<Receiver>> {
    let mut unsynced: Vec<u64> = Vec::new();
    let written: Result<()> = async {
        while let Some(msg) = chunks.recv().await {
            match msg {
                ToDisk::Chunk(index, data) => {
                    let (c, h, n) = (center.clone(), receiver.hash, node.clone());
                    blocking(move || c.blobs.write_chunk(&h, &n, index, &data)).await?;
                    unsynced.push(index);
                    if unsynced.len() >= sync_every {
                        flush(&center, &node, &mut receiver, &mut unsynced).await?;
                    }
                }
                ToDisk::Flush(reply) => {
                    let r = flush(&center, &node, &mut receiver, &mut unsynced).await;
                    let _ = reply.send(r.map(|()| receiver.clone()));
                }
            }
        }
        Ok(())
    }
    .await;
    // chunks written before a failure are still worth keeping
    let flushed = flush(&center, &node, &mut receiver, &mut unsynced).await;
    written.and(flushed).map(|()| receiver)
}

/// fsync the chunks written since the last flush, then record them as held.
async fn flush(
    center: &Arc<Center>,
    node: &str,
    receiver: &mut Box<Receiver>,
    unsynced: &mut Vec<u64>,
) -> Result<()> {
    if unsynced.is_empty() {
        return Ok(());
    }
    for i in unsynced.drain(..) {
        receiver.mark_durable(i);
    }
    let (c, r, n) = (center.clone(), (**receiver).clone(), node.to_string());
    blocking(move || c.save_progress(&n, &r)).await
}
