//! The edge's side of sync: dial the center over mutually authenticated QUIC,
//! merge documents, upload items the center does not hold verified, and keep
//! going across cuts (jittered exponential backoff, capped at a few seconds).
//!
//! Order of work in a session: documents first (they are small and carry the
//! center's decisions back), then items, held items first, then by hand-over
//! deadline, then oldest ([`jilu_common::schedule`]). Every chunk is re-read from
//! the store and checked against its chaining value before it is sent: local
//! corruption is reported as such and the item set aside, never sent or looped on.

use jilu_common::subject::Subject;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use automerge::sync::{Message, State, SyncDoc};
use jilu_common::audit::Action;
use jilu_common::chunk_tree::verify_chunk;
use jilu_common::codec::{self, MAX_FRAME};
use jilu_common::hash::Hash;
use jilu_common::schedule::{upload_order, Backoff, Candidate, TokenBucket};
use jilu_common::time::Millis;
use jilu_common::wire::{from_ranges, DocHeads, Offer, Request, Response, PROTOCOL_VERSION};
use jilu_common::{sync, time};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::config::CenterLink;
use crate::edge::{now_ms, Edge, ItemRecord, ItemTx};
use crate::store::{self, chunk_key};

use crate::schema::{
    sync_state_key as state_key, CORRUPT_PREFIX, LINK_STATE as LINK_KEY, REFUSED_PREFIX,
};

/// What `status` shows of the link. Every field has a default, so a field added
/// later does not make stored copies unreadable.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LinkState {
    /// "online", "offline" or "refused"
    pub state: String,
    pub since: Millis,
    pub last_contact: Option<Millis>,
    pub last_error: Option<String>,
    /// payload bytes per second over the last uploaded item
    pub recent_rate: f64,
    pub bytes_sent: u64,
    pub items_verified: u64,
}

impl jilu_common::record::Record for LinkState {
    const NAME: &'static str = "link state";
    const VERSION: u16 = 1;
}

/// Why an item is set aside (`corrupt/<hash>`, `refused/<hash>`): not uploaded,
/// not retried.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetAside {
    pub reason: String,
}

/// Format 0 stored the reason as bare text, not JSON.
impl jilu_common::record::Record for SetAside {
    const NAME: &'static str = "set-aside item";
    const VERSION: u16 = 1;
    fn upgrade(version: u16, body: &[u8]) -> Result<Self, jilu_common::record::RecordError> {
        match version {
            0 => Ok(SetAside {
                reason: String::from_utf8_lossy(body).into_owned(),
            }),
            found => Err(jilu_common::record::RecordError::NoUpgrade {
                name: Self::NAME,
                found,
            }),
        }
    }
}

impl SetAside {
    /// Reads what is stored under a set-aside key: format 0's bare text has no
    /// header and need not start with `{`, so anything without one is that text.
    fn read(bytes: &[u8]) -> Result<SetAside, jilu_common::record::RecordError> {
        match bytes.first() {
            Some(&jilu_common::record::MAGIC) => jilu_common::record::decode(bytes),
            _ => <SetAside as jilu_common::record::Record>::upgrade(0, bytes),
        }
    }
}

/// What one `sync` run did (for `--once` and tests).
#[derive(Debug, Default, Clone, Serialize)]
pub struct SyncReport {
    pub sessions: u64,
    pub docs_synced: u64,
    pub docs_refused: Vec<String>,
    pub items_verified: u64,
    pub bytes_sent: u64,
    pub locally_corrupt: Vec<String>,
    pub refused_items: Vec<String>,
}

impl SyncReport {
    /// What happened since `before` was taken of the same run.
    pub fn since(&self, before: &SyncReport) -> SyncReport {
        let tail = |now: &[String], then: &[String]| now[then.len().min(now.len())..].to_vec();
        SyncReport {
            sessions: self.sessions - before.sessions.min(self.sessions),
            docs_synced: self.docs_synced - before.docs_synced.min(self.docs_synced),
            docs_refused: tail(&self.docs_refused, &before.docs_refused),
            items_verified: self.items_verified - before.items_verified.min(self.items_verified),
            bytes_sent: self.bytes_sent - before.bytes_sent.min(self.bytes_sent),
            locally_corrupt: tail(&self.locally_corrupt, &before.locally_corrupt),
            refused_items: tail(&self.refused_items, &before.refused_items),
        }
    }
}

/// Passes of the sync loop: a pass syncs the documents, then uploads the queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Passes {
    /// passes started so far (the current one included)
    pub started: u64,
    /// the number of the last pass that ended with nothing left to upload
    pub idle: u64,
}

/// What a running sync shares with the rest of the node: its report so far, its
/// passes, and a way to start the next pass now instead of at the next poll.
/// A command forwarded to the running node (`edge-node sync --once`) waits on
/// these for a pass that started after it asked and ended idle.
#[derive(Debug, Clone)]
pub struct Hooks {
    pub report: Arc<Mutex<SyncReport>>,
    pub passes: Arc<tokio::sync::watch::Sender<Passes>>,
    pub poke: Arc<tokio::sync::Notify>,
}

impl Default for Hooks {
    fn default() -> Hooks {
        Hooks {
            report: Arc::default(),
            passes: Arc::new(tokio::sync::watch::Sender::new(Passes::default())),
            poke: Arc::default(),
        }
    }
}

impl Hooks {
    pub fn report(&self) -> SyncReport {
        self.report
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| anyhow!("a store task failed: {e}"))?
}

fn client_config(edge: &Edge, link: &CenterLink) -> Result<quinn::ClientConfig> {
    let dir = edge
        .store
        .path
        .parent()
        .unwrap_or(std::path::Path::new("."))
        .to_path_buf();
    let abs = |p: &std::path::Path| {
        if p.is_relative() {
            dir.join(p)
        } else {
            p.to_path_buf()
        }
    };
    let (cert, key, ca) = (abs(&link.cert), abs(&link.key), abs(&link.ca));
    crate::tls::client_config(
        crate::tls::EdgeFiles {
            cert: &cert,
            key: &key,
            ca: &ca,
        },
        Duration::from_millis(link.keepalive_ms.max(100)),
        Duration::from_millis(link.idle_timeout_ms.max(500)),
    )
}

/// Runs sync until `cancel`; with `once`, until nothing is left to send, or until
/// `give_up` has passed without a successful session (a script must not hang on a
/// link that is down or a center that refuses this node).
pub async fn run(
    edge: Arc<Edge>,
    once: bool,
    give_up: Duration,
    cancel: CancellationToken,
) -> Result<SyncReport> {
    run_with(edge, once, give_up, cancel, Hooks::default()).await
}

/// [`run`], sharing its progress through `hooks`.
pub async fn run_with(
    edge: Arc<Edge>,
    once: bool,
    give_up: Duration,
    cancel: CancellationToken,
    hooks: Hooks,
) -> Result<SyncReport> {
    let link = edge.cfg.center.clone().ok_or_else(|| {
        anyhow!("no [center] section in edge.toml: this node has no center to sync with")
    })?;
    let addr: std::net::SocketAddr = tokio::net::lookup_host(&link.addr)
        .await
        .with_context(|| format!("cannot resolve the center address {}", link.addr))?
        .next()
        .ok_or_else(|| anyhow!("the center address {} resolves to nothing", link.addr))?;
    let client = client_config(&edge, &link)?;
    let bind: std::net::SocketAddr = if addr.is_ipv6() {
        "[::]:0".parse()?
    } else {
        "0.0.0.0:0".parse()?
    };
    let mut endpoint = quinn::Endpoint::client(bind).context("cannot open a UDP socket")?;
    endpoint.set_default_client_config(client);
    let report = hooks.report.clone();
    let mut backoff = Backoff::new(200, link.backoff_cap_ms.max(200));
    let mut seed = now_ms() as u64 ^ 0x9e37_79b9_7f4a_7c15;
    let started = Instant::now();
    let mut last_error = None;
    // A dial into a link that is down gets no answer, and quinn repeats the first
    // handshake packet only on an exponential timer (about 1 s, 3 s, 7 s … after
    // the dial, from its 333 ms initial RTT guess), while the dial itself lasts the
    // idle timeout: once the link is back, the next packet could be seconds away.
    // On a link up 2 s in every 10 that lost most of each up phase
    // (`jilu-bench-sync`, part intermittent). So a dial that has heard nothing back
    // within one keep-alive interval is dropped and a new one sent at once: a link
    // that comes back is found within `probe`, for one small packet per probe
    // while it is down. A dial that did hear back is never cut short (a slow
    // handshake on a slow link completes), and every other failure backs off.
    let probe = Duration::from_millis(link.keepalive_ms.max(100));
    loop {
        if cancel.is_cancelled() {
            break;
        }
        if once && started.elapsed() > give_up {
            endpoint.close(quinn::VarInt::from_u32(0), b"edge giving up");
            bail!(
                "gave up after {}s without completing a sync: {}",
                give_up.as_secs(),
                last_error.unwrap_or_else(|| "no answer".into())
            );
        }
        let mut silent = false;
        let attempt = async {
            let mut connecting = endpoint.connect(addr, &link.name)?;
            if tokio::time::timeout(probe, connecting.handshake_data())
                .await
                .is_err()
            {
                silent = true;
                bail!("no answer from the center at {addr}");
            }
            let conn = connecting.await?;
            backoff.reset();
            report.lock().unwrap_or_else(|p| p.into_inner()).sessions += 1;
            session(&edge, &link, conn, once, &hooks, &cancel).await
        };
        let outcome = attempt.await;
        match outcome {
            Ok(()) => {
                if once {
                    break;
                }
            }
            Err(e) => {
                let text = format!("{e:#}");
                let refused = text.contains("revoked")
                    || text.contains("certificate")
                    || text.contains("Refused");
                // the same failure again (a link down for a while is probed every
                // `probe`) is logged quietly and recorded once
                let again = silent && last_error.as_deref() == Some(text.as_str());
                if again {
                    debug!("link to the center: {text}");
                } else {
                    warn!("link to the center: {text}");
                    last_error = Some(text.clone());
                    let e2 = edge.clone();
                    let _ = blocking(move || {
                        set_link(&e2, |l| {
                            l.state = if refused {
                                "refused".into()
                            } else {
                                "offline".into()
                            };
                            l.since = now_ms();
                            l.last_error = Some(text);
                        })
                    })
                    .await;
                }
            }
        }
        // jittered wait before redialling; a silent dial has waited `probe` already
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let wait = if silent {
            0
        } else {
            backoff.next_ms((seed % 10_000) as f64 / 10_000.0)
        };
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = hooks.poke.notified() => {}
            _ = tokio::time::sleep(Duration::from_millis(wait)) => {}
        }
    }
    endpoint.close(quinn::VarInt::from_u32(0), b"edge stopping");
    let out = report.lock().unwrap_or_else(|p| p.into_inner()).clone();
    Ok(out)
}

fn set_link(edge: &Edge, f: impl FnOnce(&mut LinkState)) -> Result<()> {
    let mut l = link_state(edge)?.unwrap_or_default();
    f(&mut l);
    let mut tx = edge.begin();
    tx.put_record(store::META, LINK_KEY, &l)?;
    tx.commit()
}

/// The last recorded link state (shown by `status`).
pub fn link_state(edge: &Edge) -> Result<Option<LinkState>> {
    Ok(edge.store.get_record(store::META, LINK_KEY)?)
}

fn marked(edge: &Edge, prefix: &str) -> Result<Vec<(String, String)>> {
    edge.store
        .scan_prefix(store::META, prefix.as_bytes())?
        .into_iter()
        .map(|(k, v)| {
            let why =
                SetAside::read(&v).with_context(|| format!("a set-aside record under {prefix}"))?;
            Ok((
                String::from_utf8_lossy(&k[prefix.len()..]).into_owned(),
                why.reason,
            ))
        })
        .collect()
}

/// Items the node knows are corrupt in its own store, with why.
pub fn corrupt_items(edge: &Edge) -> Result<Vec<(String, String)>> {
    marked(edge, CORRUPT_PREFIX)
}

/// Items the center refused from this node, with its reason.
pub fn refused_items(edge: &Edge) -> Result<Vec<(String, String)>> {
    marked(edge, REFUSED_PREFIX)
}

async fn session(
    edge: &Arc<Edge>,
    link: &CenterLink,
    conn: quinn::Connection,
    once: bool,
    hooks: &Hooks,
    cancel: &CancellationToken,
) -> Result<()> {
    let report = &hooks.report;
    let (mut tx, mut rx) = conn.open_bi().await?;
    codec::write(
        &mut tx,
        &Request::Hello {
            version: PROTOCOL_VERSION,
            software: format!("edge-node {}", env!("CARGO_PKG_VERSION")),
        },
    )
    .await?;
    match codec::read::<Response, _>(&mut rx, MAX_FRAME).await? {
        Some(Response::Welcome { center, .. }) => info!(%center, "connected to the center"),
        Some(Response::Refused { reason }) => bail!("the center refused this node: {reason}"),
        other => bail!("unexpected answer to hello: {other:?}"),
    }
    let e = edge.clone();
    blocking(move || {
        set_link(&e, |l| {
            l.state = "online".into();
            l.since = now_ms();
            l.last_contact = Some(now_ms());
            l.last_error = None;
        })
    })
    .await?;
    loop {
        if cancel.is_cancelled() {
            conn.close(quinn::VarInt::from_u32(0), b"edge stopping");
            return Ok(());
        }
        let mut pass = 0;
        hooks.passes.send_modify(|p| {
            p.started += 1;
            pass = p.started;
        });
        sync_docs(edge, &mut tx, &mut rx, report).await?;
        let queue = {
            let e = edge.clone();
            blocking(move || upload_queue(&e)).await?
        };
        let (items, bytes) = (
            queue.len() as u64,
            queue.iter().map(|r| r.item.size).sum::<u64>(),
        );
        codec::write(&mut tx, &Request::Queue { items, bytes }).await?;
        if queue.is_empty() {
            hooks.passes.send_modify(|p| p.idle = p.idle.max(pass));
            if once {
                // let the center take in the last report before the connection closes
                let _ = tx.finish();
                let _ = tokio::time::timeout(
                    Duration::from_secs(2),
                    codec::read::<Response, _>(&mut rx, MAX_FRAME),
                )
                .await;
                conn.close(quinn::VarInt::from_u32(0), b"done");
                return Ok(());
            }
            tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                _ = hooks.poke.notified() => continue,
                _ = tokio::time::sleep(Duration::from_secs(2)) => continue,
                r = conn.closed() => bail!("connection closed: {r}"),
            }
        }
        upload(edge, link, &conn, queue, report, cancel).await?;
    }
}

async fn sync_docs(
    edge: &Arc<Edge>,
    tx: &mut quinn::SendStream,
    rx: &mut quinn::RecvStream,
    report: &Arc<Mutex<SyncReport>>,
) -> Result<()> {
    let e = edge.clone();
    let docs: Vec<DocHeads> = blocking(move || {
        let mut out = Vec::new();
        for name in e.doc_names("")? {
            if !sync::visible_to(&name, &e.cfg.county) {
                continue;
            }
            if let Some(mut d) = e.load_doc(&name)? {
                out.push(DocHeads {
                    name,
                    heads: d.get_heads().into_iter().map(|h| h.0).collect(),
                });
            }
        }
        Ok(out)
    })
    .await?;
    let held = docs.len();
    codec::write(tx, &Request::Heads { docs }).await?;
    let names = match codec::read::<Response, _>(rx, MAX_FRAME).await? {
        Some(Response::Differ { names }) => names,
        other => bail!("unexpected answer to heads: {other:?}"),
    };
    // one line per request/answer pair on the control stream (the benchmark
    // counts them: unchanged documents must take this one round trip only)
    debug!(
        docs = held,
        differ = names.len(),
        "control round trip: Heads → Differ"
    );
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

/// Items waiting for the center, in upload order.
pub fn upload_queue(edge: &Edge) -> Result<Vec<ItemRecord>> {
    let corrupt: std::collections::HashSet<String> = corrupt_items(edge)?
        .into_iter()
        .chain(refused_items(edge)?)
        .map(|(h, _)| h)
        .collect();
    let waiting: Vec<ItemRecord> = edge
        .items()?
        .into_iter()
        .filter(|r| r.center_verified_at.is_none() && !corrupt.contains(&r.item.hash.to_hex()))
        .collect();
    // Activities only order items linked to one (holds, hand-over deadlines).
    // Reading every activity of the county when no such item waits cost ~0.9 s a
    // session with 10k activities, most of an unchanged sync (`jilu-bench-sync`).
    let activities = if waiting.iter().any(|r| r.item.activity.is_some()) {
        edge.activities()?
    } else {
        Vec::new()
    };
    let window = edge.cfg.rules.handover_hours * 3_600_000;
    let mut keyed: Vec<(Candidate, ItemRecord)> = waiting
        .into_iter()
        .map(|r| {
            let act = r
                .item
                .activity
                .as_ref()
                .and_then(|a| activities.iter().find(|x| &x.id == a));
            let c = Candidate {
                hash: r.item.hash,
                held: act.is_some_and(|a| a.hold.is_some()),
                deadline: act.and_then(|a| a.departure).map(|d| d + window),
                ingested_at: r.item.ingested_at,
            };
            (c, r)
        })
        .collect();
    keyed.sort_by(|a, b| upload_order(&a.0, &b.0));
    Ok(keyed.into_iter().map(|(_, r)| r).collect())
}

async fn upload(
    edge: &Arc<Edge>,
    link: &CenterLink,
    conn: &quinn::Connection,
    queue: Vec<ItemRecord>,
    report: &Arc<Mutex<SyncReport>>,
    cancel: &CancellationToken,
) -> Result<()> {
    let bucket = Arc::new(tokio::sync::Mutex::new(TokenBucket::new(
        link.bandwidth_bytes_per_sec,
        (link.bandwidth_bytes_per_sec / 4).max(1 << 20),
        now_ms(),
    )));
    let permits = Arc::new(tokio::sync::Semaphore::new(link.streams.max(1) as usize));
    let mut tasks = tokio::task::JoinSet::new();
    let sent = Arc::new(AtomicU64::new(0));
    for rec in queue {
        let permit = tokio::select! {
            _ = cancel.cancelled() => break,
            p = permits.clone().acquire_owned() => p?,
        };
        let (edge, conn, bucket, report, sent) = (
            edge.clone(),
            conn.clone(),
            bucket.clone(),
            report.clone(),
            sent.clone(),
        );
        let capped = link.bandwidth_bytes_per_sec > 0;
        tasks.spawn(async move {
            let _permit = permit;
            upload_item(&edge, &conn, rec, capped.then_some(bucket), &report, &sent).await
        });
        // a failed stream means a failed link: stop starting new ones
        while let Some(done) = tasks.try_join_next() {
            done.map_err(|e| anyhow!("upload task: {e}"))??;
        }
    }
    // Stopping does not wait for the items in flight: a 1 GiB item on a capped
    // link could hold a SIGTERM for minutes. Dropping their streams loses nothing:
    // the center keeps every chunk it made durable and the next offer resumes.
    loop {
        tokio::select! {
            _ = cancel.cancelled() => {
                tasks.abort_all();
                return Ok(());
            }
            done = tasks.join_next() => match done {
                Some(done) => done.map_err(|e| anyhow!("upload task: {e}"))??,
                None => return Ok(()),
            },
        }
    }
}

/// Reads chunk `index` of `rec` from the store and checks it.
fn read_chunk(edge: &Edge, rec: &ItemRecord, cvs: &[[u8; 32]], index: u64) -> Result<Vec<u8>> {
    let cf = edge
        .store
        .cf(&crate::schema::footage_cf(&rec.item.period))?;
    // The chunk is checked against its BLAKE3 chaining value just below, which
    // catches any damage RocksDB's own CRC32C of the blob record would, and more.
    // That CRC is computed in software by the system librocksdb (Debian): about
    // 0.6 CPU-seconds per GiB uploaded, on the edge's critical path
    // (`jilu-bench-sync`), for no added safety.
    let mut opts = rocksdb::ReadOptions::default();
    opts.set_verify_checksums(false);
    let data = edge
        .store
        .db
        .get_cf_opt(&cf, chunk_key(rec.ingest, index), &opts)
        .map_err(|e| edge.store.err(e))?
        .ok_or_else(|| anyhow!("chunk {index} is missing from this node's store"))?;
    if !verify_chunk(index, &data, rec.item.size, cvs) {
        bail!("chunk {index} does not match its hash in this node's store");
    }
    Ok(data)
}

enum Outcome {
    Verified(Millis),
    Refused(String),
    Corrupt(String),
}

async fn upload_item(
    edge: &Arc<Edge>,
    conn: &quinn::Connection,
    rec: ItemRecord,
    bucket: Option<Arc<tokio::sync::Mutex<TokenBucket>>>,
    report: &Arc<Mutex<SyncReport>>,
    sent: &Arc<AtomicU64>,
) -> Result<()> {
    let hash = *rec.item.hash.as_bytes();
    let e = edge.clone();
    let cvs = blocking(move || e.cvs(&hash)).await?;
    let (mut tx, mut rx) = conn.open_bi().await?;
    let offer = Offer {
        hash,
        size: rec.item.size,
        cvs: cvs.clone(),
        item: rec.item.clone(),
    };
    codec::write(&mut tx, &Request::Offer(Box::new(offer))).await?;
    let started = Instant::now();
    let mut item_bytes = 0u64;
    let cvs = Arc::new(cvs);
    let outcome = 'rounds: {
        for _round in 0..8 {
            let missing = loop {
                match codec::read::<Response, _>(&mut rx, MAX_FRAME).await? {
                    Some(Response::Have { missing }) => break missing,
                    Some(Response::Verified { at, .. }) => break 'rounds Outcome::Verified(at),
                    Some(Response::Refused { reason }) => break 'rounds Outcome::Refused(reason),
                    Some(Response::Prove { nonce, chunks }) => {
                        // the center holds these bytes already: prove this node does too
                        let (e, r, c) = (edge.clone(), rec.clone(), cvs.clone());
                        let mac = blocking(move || {
                            let mut failed = None;
                            let mac = jilu_common::holder::proof(&nonce, &chunks, |i| {
                                match read_chunk(&e, &r, &c, i) {
                                    Ok(d) => Some(d),
                                    Err(err) => {
                                        failed = Some(err);
                                        None
                                    }
                                }
                            });
                            match (mac, failed) {
                                (Some(m), _) => Ok(Ok(m)),
                                (None, Some(err)) => Ok(Err(format!("{err:#}"))),
                                (None, None) => Ok(Err("no chunk to prove".to_string())),
                            }
                        })
                        .await?;
                        match mac {
                            Ok(mac) => codec::write(&mut tx, &Request::Proof { mac }).await?,
                            Err(why) => break 'rounds Outcome::Corrupt(why),
                        }
                    }
                    Some(Response::ChunkRejected { index }) => {
                        warn!(item = %rec.item.hash, index, "the center rejected a chunk; it will be re-read and resent")
                    }
                    Some(other) => bail!("unexpected answer on an item stream: {other:?}"),
                    None => bail!("the center closed the item stream"),
                }
            };
            let indices = from_ranges(&missing, rec.item.chunks)
                .ok_or_else(|| anyhow!("the center asked for chunks the item does not have"))?;
            debug!(item = %rec.item.hash, chunks = indices.len(), "sending");
            for index in indices {
                let (e, r, c) = (edge.clone(), rec.clone(), cvs.clone());
                let data = match blocking(move || read_chunk(&e, &r, &c, index)).await {
                    Ok(d) => d,
                    Err(err) => break 'rounds Outcome::Corrupt(format!("{err:#}")),
                };
                if let Some(b) = &bucket {
                    let wait = b.lock().await.take(data.len() as u64, now_ms());
                    if wait > 0 {
                        tokio::time::sleep(Duration::from_millis(wait)).await;
                    }
                }
                item_bytes += data.len() as u64;
                sent.fetch_add(data.len() as u64, Ordering::Relaxed);
                codec::write(&mut tx, &Request::Chunk { index, data }).await?;
            }
            codec::write(&mut tx, &Request::Done).await?;
        }
        bail!("item {} did not complete after 8 rounds", rec.item.hash);
    };
    let _ = tx.finish();
    report.lock().unwrap_or_else(|p| p.into_inner()).bytes_sent += item_bytes;
    let e = edge.clone();
    match outcome {
        Outcome::Verified(at) => {
            let rate = item_bytes as f64 / started.elapsed().as_secs_f64().max(1e-3);
            blocking(move || record_verified(&e, &rec.item.hash, at, item_bytes, rate)).await?;
            report
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .items_verified += 1;
        }
        Outcome::Refused(reason) => {
            // a refusal is the center's decision on this item from this node: it is not
            // retried (until the operator clears it), and the other items go on
            warn!(item = %rec.item.hash, "the center refused the item: {reason}");
            let detail = json!({"reason": reason});
            let h = rec.item.hash;
            blocking(move || {
                set_aside(
                    &e,
                    REFUSED_PREFIX,
                    &h,
                    &reason,
                    "center",
                    Action::ChangeRefused,
                    detail,
                )
            })
            .await?;
            report
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .refused_items
                .push(rec.item.hash.to_hex());
        }
        Outcome::Corrupt(why) => {
            warn!(item = %rec.item.hash, "LOCAL CORRUPTION: {why}; the item is set aside and not uploaded");
            let detail = json!({"ok": false, "local_corruption": why});
            let h = rec.item.hash;
            blocking(move || {
                set_aside(
                    &e,
                    CORRUPT_PREFIX,
                    &h,
                    &why,
                    "jilu",
                    Action::Verified,
                    detail,
                )
            })
            .await?;
            report
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .locally_corrupt
                .push(rec.item.hash.to_hex());
        }
    }
    Ok(())
}

/// Marks an item as not to be uploaded (under `prefix`, with why) and records it
/// in the item's custody, in one batch.
fn set_aside(
    edge: &Edge,
    prefix: &str,
    hash: &Hash,
    why: &str,
    actor: &str,
    action: Action,
    detail: serde_json::Value,
) -> Result<()> {
    let mut t = edge.begin();
    t.put_record(
        store::META,
        format!("{prefix}{hash}").as_bytes(),
        &SetAside {
            reason: why.to_string(),
        },
    )?;
    t.audit(
        actor,
        action,
        format!("item:{hash}"),
        detail,
        &[*hash.as_bytes()],
    )?;
    t.commit()
}

fn record_verified(edge: &Edge, hash: &Hash, at: Millis, bytes: u64, rate: f64) -> Result<()> {
    let key = *hash.as_bytes();
    let mut rec = edge
        .item(&key)?
        .ok_or_else(|| anyhow!("item {hash} vanished"))?;
    if rec.center_verified_at.is_some() {
        return Ok(());
    }
    rec.center_verified_at = Some(at);
    let mut t = edge.begin();
    t.put_item(&rec)?;
    t.audit(
        "center",
        Action::VerifiedAtCenter,
        format!("item:{hash}"),
        json!({"at": at, "bytes_sent": bytes}),
        &[key],
    )?;
    let mut l = link_state(edge)?.unwrap_or_default();
    l.last_contact = Some(now_ms());
    if bytes > 0 {
        l.recent_rate = rate;
    }
    l.bytes_sent += bytes;
    l.items_verified += 1;
    t.put_record(store::META, LINK_KEY, &l)?;
    t.commit()?;
    info!(item = %hash, verified_at = %time::format(at), "verified at the center");
    edge.evict_if_needed()
}

impl Edge {
    /// Frees footage the center has verified, oldest first, while the store holds
    /// more than the configured watermark.
    pub fn evict_if_needed(&self) -> Result<()> {
        let limit = self.cfg.storage.evict_watermark_bytes;
        if limit == 0 {
            return Ok(());
        }
        let mut items = self.items()?;
        items.sort_by_key(|r| r.item.ingested_at);
        let mut held: u64 = 0;
        let mut freed = std::collections::HashSet::new();
        for r in &items {
            if self.chunks_freed(&r.item.hash)? {
                freed.insert(r.item.hash);
            } else {
                held += r.item.size;
            }
        }
        for r in items {
            if held <= limit {
                break;
            }
            if r.center_verified_at.is_none() || freed.contains(&r.item.hash) {
                continue;
            }
            self.free_chunks_as(
                &jilu_common::subject::Actor::system("jilu"),
                &r.item.hash,
                json!({"verified_at_center": r.center_verified_at, "watermark": limit}),
            )?;
            held = held.saturating_sub(r.item.size);
        }
        Ok(())
    }
}
