//! One edge's connection: the control stream (hello, document sync, queue
//! reports) and one stream per uploaded item. Frames are decoded with limits
//! ([`jilu_common::codec`]); every decision is [`Center`]'s, run off the reactor.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{anyhow, bail, Result};
use jilu_certs::identity::Identity;
use jilu_common::chunk_tree::CHUNK_SIZE;
use jilu_common::codec::{self, MAX_FRAME};
use jilu_common::transfer::Receiver;
use jilu_common::wire::{Offer, Request, Response, PROTOCOL_VERSION};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::center::{Center, OfferOutcome};

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
    let mut tasks = tokio::task::JoinSet::new();
    let mut first = true;
    let mut shutting_down = false;
    loop {
        let stream = tokio::select! {
            _ = cancel.cancelled() => {
                shutting_down = true;
                break;
            }
            s = conn.accept_bi() => s,
        };
        let (send, recv) = match stream {
            Ok(s) => s,
            Err(e) => {
                debug!(node = %peer.node, "connection ended: {e}");
                break;
            }
        };
        let (center, peer) = (center.clone(), peer.clone());
        if std::mem::take(&mut first) {
            tasks.spawn(async move {
                if let Err(e) = control(center, peer.clone(), send, recv).await {
                    warn!(node = %peer.node, "control stream: {e:#}");
                }
            });
        } else {
            tasks.spawn(async move {
                if let Err(e) = item_stream(center, peer.clone(), send, recv).await {
                    warn!(node = %peer.node, "item stream: {e:#}");
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

async fn send(s: &mut quinn::SendStream, r: &Response) -> Result<()> {
    codec::write(s, r).await?;
    Ok(())
}

async fn control(
    center: Arc<Center>,
    peer: Identity,
    mut tx: quinn::SendStream,
    mut rx: quinn::RecvStream,
) -> Result<()> {
    match codec::read::<Request, _>(&mut rx, CONTROL_LIMIT).await? {
        Some(Request::Hello { version, software }) if version == PROTOCOL_VERSION => {
            info!(node = %peer.node, county = %peer.county, %software, "edge connected");
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
        }
        Some(Request::Hello { version, .. }) => {
            send(&mut tx, &Response::Refused { reason: format!("protocol version {version} is not supported; this center speaks {PROTOCOL_VERSION}") }).await?;
            bail!("protocol version {version}");
        }
        other => {
            let _ = send(
                &mut tx,
                &Response::Refused {
                    reason: "the first message must be Hello".into(),
                },
            )
            .await;
            bail!("expected Hello, got {other:?}");
        }
    }
    while let Some(req) = codec::read::<Request, _>(&mut rx, CONTROL_LIMIT).await? {
        match req {
            Request::Heads { docs } => {
                let (c, p) = (center.clone(), peer.clone());
                let names = blocking(move || c.differing(&p, &docs)).await?;
                send(&mut tx, &Response::Differ { names }).await?;
            }
            Request::DocSync { name, message } => {
                let (c, p, n) = (center.clone(), peer.clone(), name.clone());
                let reply = blocking(move || c.sync_doc(&p, &n, message.as_deref())).await;
                match reply {
                    Ok(message) => send(&mut tx, &Response::DocSync { name, message }).await?,
                    Err(e) => {
                        let reason = format!("{e:#}");
                        warn!(node = %peer.node, doc = %name, "refused: {reason}");
                        let (c, p, r) = (center.clone(), peer.clone(), reason.clone());
                        let _ =
                            blocking(move || c.update_peer(&p, |rec| rec.last_refusal = Some(r)))
                                .await;
                        send(&mut tx, &Response::Refused { reason }).await?;
                    }
                }
            }
            Request::DocsDone => {}
            Request::Queue { items, bytes } => {
                let (c, p) = (center.clone(), peer.clone());
                blocking(move || {
                    c.update_peer(&p, |r| {
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
                bail!("unexpected {other:?} on the control stream");
            }
        }
    }
    // the edge finished: end ours too, so it knows every report was taken in
    let _ = tx.finish();
    Ok(())
}

/// Receives one item: offer, missing ranges, verified chunks, completion.
async fn item_stream(
    center: Arc<Center>,
    peer: Identity,
    mut tx: quinn::SendStream,
    mut rx: quinn::RecvStream,
) -> Result<()> {
    let offer: Offer = match codec::read::<Request, _>(&mut rx, MAX_FRAME).await? {
        Some(Request::Offer(o)) => *o,
        other => {
            let _ = send(
                &mut tx,
                &Response::Refused {
                    reason: "an item stream must start with an offer".into(),
                },
            )
            .await;
            bail!(
                "expected an offer, got {:?}",
                other.map(|_| "another message")
            );
        }
    };
    let started = Instant::now();
    // held until this stream's chunks are durable and recorded (see `ItemLocks`);
    // a stream of a dead connection ends within the idle timeout
    let wait = std::time::Duration::from_millis(u64::from(center.cfg.limits.idle_timeout_ms));
    let _receiving = center.receiving.lock(&offer.hash, wait + STREAMS_END).await;
    let (c, p, o) = (center.clone(), peer.clone(), offer.clone());
    let mut receiver = match blocking(move || c.offer(&p, &o)).await {
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
        Ok(OfferOutcome::Receive(r)) => r,
        Err(e) => {
            let reason = format!("{e:#}");
            let (c, p, r) = (center.clone(), peer.clone(), reason.clone());
            let _ = blocking(move || {
                let mut t = c.journal.begin();
                t.audit(
                    &p.node,
                    jilu_common::audit::Action::ChangeRefused,
                    "offer",
                    serde_json::json!({"reason": r}),
                    &[],
                )?;
                t.commit()
            })
            .await;
            send(&mut tx, &Response::Refused { reason }).await?;
            let _ = tx.finish();
            return Ok(());
        }
    };
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
        receiver.clone(),
        disk_rx,
        sync_every,
    ));
    let mut received = 0u64;
    let result: Result<()> = async {
        loop {
            let Some(req) = codec::read::<Request, _>(&mut rx, MAX_FRAME).await? else { return Ok(()) };
            match req {
                Request::Chunk { index, data } => match receiver.check(index, &data) {
                    jilu_common::transfer::Verdict::Accept => {
                        received += data.len() as u64;
                        if to_disk.send(ToDisk::Chunk(index, data)).await.is_err() {
                            bail!("the disk side of the item stream stopped");
                        }
                    }
                    jilu_common::transfer::Verdict::Duplicate => {}
                    jilu_common::transfer::Verdict::Reject => {
                        warn!(node = %peer.node, item = %offer.item.hash, index, "chunk does not match its hash: asked again");
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
                        let (c, p, r, o) = (center.clone(), peer.clone(), (*receiver).clone(), offer.clone());
                        let at = blocking(move || c.complete(&p, &r, &o)).await?;
                        let secs = started.elapsed().as_secs_f64().max(1e-3);
                        let (c, p) = (center.clone(), peer.clone());
                        blocking(move || {
                            c.update_peer(&p, |rec| {
                                rec.items_verified += 1;
                                rec.recent_rate = received as f64 / secs;
                            })
                        })
                        .await?;
                        info!(node = %peer.node, item = %offer.item.hash, bytes = received, "verified at center");
                        send(&mut tx, &Response::Verified { at, center: center.cfg.node.clone() }).await?;
                        let _ = tx.finish();
                        return Ok(());
                    }
                    send(&mut tx, &Response::Have { missing: receiver.missing() }).await?;
                }
                _ => bail!("unexpected message on an item stream"),
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
    let (c, p) = (center.clone(), peer.clone());
    let _ = blocking(move || c.update_peer(&p, |rec| rec.bytes_received += received)).await;
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
    mut receiver: Box<Receiver>,
    mut chunks: tokio::sync::mpsc::Receiver<ToDisk>,
    sync_every: usize,
) -> Result<Box<Receiver>> {
    let mut unsynced: Vec<u64> = Vec::new();
    let written: Result<()> = async {
        while let Some(msg) = chunks.recv().await {
            match msg {
                ToDisk::Chunk(index, data) => {
                    let (c, h) = (center.clone(), receiver.hash);
                    blocking(move || c.blobs.write_chunk(&h, index, &data)).await?;
                    unsynced.push(index);
                    if unsynced.len() >= sync_every {
                        flush(&center, &mut receiver, &mut unsynced).await?;
                    }
                }
                ToDisk::Flush(reply) => {
                    let r = flush(&center, &mut receiver, &mut unsynced).await;
                    let _ = reply.send(r.map(|()| receiver.clone()));
                }
            }
        }
        Ok(())
    }
    .await;
    // chunks written before a failure are still worth keeping
    let flushed = flush(&center, &mut receiver, &mut unsynced).await;
    written.and(flushed).map(|()| receiver)
}

/// fsync the chunks written since the last flush, then record them as held.
async fn flush(
    center: &Arc<Center>,
    receiver: &mut Box<Receiver>,
    unsynced: &mut Vec<u64>,
) -> Result<()> {
    if unsynced.is_empty() {
        return Ok(());
    }
    for i in unsynced.drain(..) {
        receiver.mark_durable(i);
    }
    let (c, r) = (center.clone(), (**receiver).clone());
    blocking(move || c.save_progress(&r)).await
}
