//! A hostile county node: a client that holds a valid edge certificate and speaks
//! Jilu's own codec over mutual-TLS QUIC, but sends whatever a compromised,
//! misconfigured or buggy node might (forged offers, frames out of order,
//! malformed documents, floods). The hostile-peer suite (`tests/tests/hostile.rs`)
//! drives it against a real center process and checks what the center kept.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use jilu_common::automerge::sync::{Message, State, SyncDoc};
use jilu_common::automerge::AutoCommit;
use jilu_common::chunk_tree::{TreeHasher, CHUNK_SIZE};
use jilu_common::codec::{self, MAX_FRAME};
use jilu_common::item::Item;
use jilu_common::wire::{Offer, Request, Response, PROTOCOL_VERSION};
use serde_json::Value;

use std::time::Instant;

use crate::cluster::{Ca, Center};
use crate::{random_file, Edge};

/// A runtime for one test (the tests themselves are plain `#[test]`s, as the rest
/// of the suite, since they drive real processes).
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// A node with a valid edge certificate of `county`, connected to a center.
pub struct Peer {
    pub node: String,
    pub county: String,
    pub endpoint: quinn::Endpoint,
    pub conn: quinn::Connection,
}

/// One bidirectional stream of a [`Peer`].
pub struct Stream {
    pub tx: quinn::SendStream,
    pub rx: quinn::RecvStream,
}

/// The client config of an edge (mTLS, no resumption, no 0-RTT), from the
/// certificate folder `certs issue` wrote.
pub fn client_config(certs: &Path, node: &str) -> Result<quinn::ClientConfig> {
    let (cert, key) = (
        certs.join(format!("{node}.pem")),
        certs.join(format!("{node}.key")),
    );
    let files = edge_node::tls::EdgeFiles {
        cert: &cert,
        key: &key,
        ca: &certs.join("ca.pem"),
    };
    // answers keep-alives like any edge: a silent peer is silent at the application level
    edge_node::tls::client_config(files, Duration::from_millis(500), Duration::from_secs(120))
}

/// Issues a certificate for `node` of `county` (role edge).
pub fn issue(ca: &Ca, node: &str, county: &str) -> std::path::PathBuf {
    ca.issue(node, county, "edge")
}

impl Peer {
    /// Dials the center with the certificate in `certs`.
    pub async fn connect(
        addr: SocketAddr,
        name: &str,
        certs: &Path,
        node: &str,
        county: &str,
    ) -> Result<Peer> {
        let mut endpoint = quinn::Endpoint::client(SocketAddr::from(([127, 0, 0, 1], 0)))?;
        endpoint.set_default_client_config(client_config(certs, node)?);
        let conn = endpoint
            .connect(addr, name)?
            .await
            .context("handshake with the center")?;
        Ok(Peer {
            node: node.to_string(),
            county: county.to_string(),
            endpoint,
            conn,
        })
    }

    /// [`Peer::connect`] to a cluster's center.
    pub async fn to(center: &Center, certs: &Path, node: &str, county: &str) -> Result<Peer> {
        Peer::connect(center.addr, &center.name, certs, node, county).await
    }

    pub async fn open(&self) -> Result<Stream> {
        let (tx, rx) = self.conn.open_bi().await?;
        Ok(Stream { tx, rx })
    }

    /// Opens the control stream and says Hello with `version`; returns the stream
    /// and the center's answer.
    pub async fn hello_version(
        &self,
        version: u16,
        software: &str,
    ) -> Result<(Stream, Option<Response>)> {
        let mut s = self.open().await?;
        s.send(&Request::Hello {
            version,
            software: software.to_string(),
        })
        .await?;
        let answer = s.recv(Duration::from_secs(10)).await?;
        Ok((s, answer))
    }

    /// A Hello the center accepts; fails otherwise.
    pub async fn hello(&self) -> Result<Stream> {
        match self.hello_version(PROTOCOL_VERSION, "hostile 1").await? {
            (s, Some(Response::Welcome { .. })) => Ok(s),
            (_, other) => bail!("hello not welcomed: {other:?}"),
        }
    }

    /// Opens an item stream with `offer`; returns it with the center's first answer
    /// (`None`: the stream ended or nothing came within `within`).
    pub async fn offer(
        &self,
        offer: &Offer,
        within: Duration,
    ) -> Result<(Stream, Option<Response>)> {
        let mut s = self.open().await?;
        s.send(&Request::Offer(Box::new(offer.clone()))).await?;
        let answer = s.recv(within).await.unwrap_or(None);
        Ok((s, answer))
    }

    /// Uploads `data` (the item `offer` describes) completely, answering whatever the
    /// center asks; returns the center's last answer.
    pub async fn upload(
        &self,
        offer: &Offer,
        data: &[u8],
        within: Duration,
    ) -> Result<Option<Response>> {
        let (mut s, mut answer) = self.offer(offer, within).await?;
        for _ in 0..4 {
            match answer {
                Some(Response::Have { missing }) => {
                    for (start, end) in missing {
                        for i in start..end {
                            let from = i as usize * CHUNK_SIZE;
                            let to = (from + CHUNK_SIZE).min(data.len());
                            s.send(&Request::Chunk {
                                index: i,
                                data: data[from..to].to_vec(),
                            })
                            .await?;
                        }
                    }
                    s.send(&Request::Done).await?;
                    answer = s.recv(within).await.unwrap_or(None);
                }
                other => return Ok(other),
            }
        }
        Ok(answer)
    }

    /// Runs the Automerge sync protocol for `name` on the control stream `s` with
    /// the document `doc`; returns the center's refusal, if it refused.
    pub async fn push_doc(
        s: &mut Stream,
        name: &str,
        doc: &mut AutoCommit,
    ) -> Result<Option<String>> {
        let mut state = State::new();
        for _ in 0..16 {
            let msg = doc
                .sync()
                .generate_sync_message(&mut state)
                .map(|m| m.encode());
            let sent = msg.is_some();
            s.send(&Request::DocSync {
                name: name.to_string(),
                message: msg,
            })
            .await?;
            match s.recv(Duration::from_secs(10)).await? {
                Some(Response::DocSync { message, .. }) => {
                    let got = message.is_some();
                    if let Some(m) = message {
                        doc.sync()
                            .receive_sync_message(&mut state, Message::decode(&m)?)
                            .map_err(|e| anyhow!("{e}"))?;
                    }
                    if !sent && !got {
                        return Ok(None);
                    }
                }
                Some(Response::Refused { reason }) => return Ok(Some(reason)),
                other => bail!("unexpected answer to a document sync: {other:?}"),
            }
        }
        Ok(None)
    }

    pub fn close(&self) {
        self.conn.close(quinn::VarInt::from_u32(0), b"bye");
    }
}

impl Stream {
    pub async fn send(&mut self, r: &Request) -> Result<()> {
        codec::write(&mut self.tx, r).await?;
        Ok(())
    }

    /// Writes bytes as they are (forged frames).
    pub async fn raw(&mut self, bytes: &[u8]) -> Result<()> {
        self.tx.write_all(bytes).await?;
        Ok(())
    }

    /// The next answer; `Ok(None)` when the stream ended; an error on a timeout or
    /// a reset stream.
    pub async fn recv(&mut self, within: Duration) -> Result<Option<Response>> {
        match tokio::time::timeout(within, codec::read::<Response, _>(&mut self.rx, MAX_FRAME))
            .await
        {
            Ok(r) => Ok(r?),
            Err(_) => bail!("no answer within {within:?}"),
        }
    }
}

/// An item record for `data`, shaped like `template` (an item as `center items`
/// lists it), claimed by `node` of `county`.
pub fn item_like(template: &Value, hash: &str, size: u64, node: &str, county: &str) -> Item {
    let mut v = template.clone();
    v["hash"] = hash.into();
    v["size"] = size.into();
    v["chunks"] = jilu_common::chunk_tree::chunk_count(size).into();
    v["node"] = node.into();
    v["county"] = county.into();
    serde_json::from_value(v).expect("an item record")
}

/// A correct offer of `data` by `node` of `county` (chunk values computed here).
pub fn offer_of(data: &[u8], template: &Value, node: &str, county: &str) -> Offer {
    let total = data.len() as u64;
    let mut h = TreeHasher::new();
    if data.is_empty() {
        h.push(data, 0);
    }
    for c in data.chunks(CHUNK_SIZE) {
        h.push(c, total);
    }
    let (root, cvs) = h.finish();
    Offer {
        hash: *root.as_bytes(),
        size: total,
        cvs,
        item: item_like(template, &root.to_hex(), total, node, county),
    }
}

/// A template item record (the minimal fields an item has).
pub fn template_item() -> Value {
    serde_json::json!({
        "hash": "", "size": 0, "chunks": 0, "kind": "video", "container": "mp4",
        "original_name": "x.mp4", "capture_start": 0, "duration_ms": null,
        "time_source": "file_time", "clock_offset_ms": 0, "device": "cam-01",
        "officer": "1001", "activity": null, "ingested_at": 0, "period": "2026-11",
        "county": "", "node": ""
    })
}

/// What a log file looks like: its longest line and the lines that contain `needle`.
pub struct LogCheck {
    pub longest: usize,
    pub bytes: u64,
    pub lines: Vec<String>,
}

/// Reads a log and reports its longest line and every line beginning with one of
/// `forged` (after the timestamp and level a real line starts with).
pub fn read_log(path: &Path) -> LogCheck {
    let bytes = std::fs::read(path).unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes);
    LogCheck {
        longest: text.lines().map(str::len).max().unwrap_or(0),
        bytes: bytes.len() as u64,
        lines: text.lines().map(str::to_string).collect(),
    }
}

/// Resident memory of a process, in KiB (`/proc/<pid>/status`).
pub fn rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// Bytes under a directory (recursively).
pub fn disk_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => total += disk_bytes(&e.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}

// ----- the city every hostile case runs in -----

pub const OWNER: &str = "410101";
pub const HOSTILE: &str = "410199";
pub const HNODE: &str = "edge-hostile";

/// A center, a legitimate edge of county `OWNER` and a hostile node's certificate.
pub struct City {
    pub root: tempfile::TempDir,
    pub ca: Ca,
    pub center: Center,
    pub owner: Edge,
    pub certs: std::path::PathBuf,
    pub rt: tokio::runtime::Runtime,
    pub seed: u64,
}

impl City {
    pub fn new(limits: &str) -> City {
        let root = tempfile::tempdir().expect("hostile fixture");
        let ca = Ca::new(root.path());
        let center = Center::start_with(root.path(), &ca, limits, true);
        let owner = Edge::office_with_a1(OWNER);
        owner.link(&ca, &center, OWNER, "");
        let certs = issue(&ca, HNODE, HOSTILE);
        City {
            root,
            ca,
            center,
            owner,
            certs,
            rt: runtime(),
            seed: 100,
        }
    }

    pub fn peer(&self) -> Peer {
        self.rt
            .block_on(Peer::to(&self.center, &self.certs, HNODE, HOSTILE))
            .expect("hostile fixture")
    }

    /// Ingests `len` fresh random bytes at the owner's edge; returns their hash.
    pub fn ingest(&mut self, len: usize) -> String {
        self.seed += 1;
        let f = random_file(
            self.owner.tmp.path(),
            &format!("f{}.bin", self.seed),
            len,
            self.seed,
        );
        self.owner.ok(&[
            "ingest",
            f.to_str().expect("hostile fixture"),
            "--device",
            "cam-01",
        ]);
        crate::b3_file(&f)
    }

    pub fn random(&mut self, len: usize) -> Vec<u8> {
        self.seed += 1;
        let f = random_file(self.root.path(), "h.bin", len, self.seed);
        std::fs::read(f).expect("hostile fixture")
    }

    pub fn items(&self) -> Vec<Value> {
        self.center.verified_items()
    }

    pub fn item(&self, hash: &str) -> Option<Value> {
        self.items().into_iter().find(|i| i["item"]["hash"] == hash)
    }

    /// The checks every case ends with.
    pub fn after(&mut self, forged: &[&str]) {
        assert!(self.center.is_running(), "the center is down");
        let rss = rss_kib(self.center.pid().expect("hostile fixture")).unwrap_or(0);
        assert!(rss < 512 * 1024, "the center uses {rss} KiB");
        let disk = disk_bytes(&self.center.dir.join("data"));
        assert!(disk < 256 << 20, "the center's data holds {disk} bytes");
        let log = read_log(self.center.log.as_ref().expect("hostile fixture"));
        assert!(
            log.longest <= 4096,
            "a log line of {} bytes ({} bytes of log)",
            log.longest,
            log.bytes
        );
        for line in &log.lines {
            for f in forged {
                assert!(!line.starts_with(f), "a forged log line: {line}");
            }
            assert!(!line.contains('\0'), "a NUL byte in the log: {line:?}");
        }
        // a legitimate edge of another county syncs promptly and its item verifies
        let hash = self.ingest(100_000);
        let started = Instant::now();
        let report = self.owner.sync_once();
        let took = started.elapsed();
        assert!(
            took < Duration::from_secs(10),
            "the owner's sync took {took:?}"
        );
        assert!(report["items_verified"].as_u64() >= Some(1), "{report}");
        let item = self.item(&hash).expect("the owner's item is verified");
        assert_eq!(item["origin"], format!("edge-{OWNER}"));
        let audit = self.center.run(&["audit-verify"]);
        assert!(audit.status.success(), "{}", crate::text(&audit));
    }

    /// Custody entries the center holds about `hash` that name the hostile node.
    pub fn hostile_custody(&self) -> Vec<String> {
        // `items` lists holders; the audit log is checked for entries by the node
        self.items()
            .iter()
            .filter(|i| {
                i["holders"]
                    .as_array()
                    .is_some_and(|h| h.iter().any(|n| n == HNODE))
            })
            .map(|i| {
                i["item"]["hash"]
                    .as_str()
                    .expect("hostile fixture")
                    .to_string()
            })
            .collect()
    }
}
