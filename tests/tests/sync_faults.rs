#![allow(clippy::unwrap_used)]
//! Sync over bad links and through crashes: a real center and a real edge, with the
//! seeded fault-injecting UDP proxy ([`FaultProxy`]) between them.
//!
//! * lossy link: 10% loss, 5% duplicates, 5% reordering, 0–1 ms jitter, both ways;
//! * 20 cuts of the link during one transfer, some longer than the edge's idle
//!   timeout (3 s in the fixture) so they force reconnects;
//! * the center killed with SIGKILL mid-transfer and restarted;
//! * the edge killed with SIGKILL mid-transfer and run again;
//! * a held chunk damaged in the center's partial copy while it is down;
//! * a chunk corrupted in the edge's own store.
//!
//! After every scenario: every item either side calls verified is at the center and
//! hashes to its name, no item is called verified that is not, and both sides hold
//! the same documents ([`assert_converged`]). Faults are injected, never left to
//! chance, and each scenario checks they happened (the proxy's counters, sessions
//! ended by the cuts, the transfer still running when the kill came). Seeds are fixed and
//! printed; `JILU_FAULT_SEED=N` replaces them all. Run with `--nocapture` for the
//! measured figures.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use jilu_tests::cluster::{assert_converged, Ca, Center};
use jilu_tests::fault_proxy::{FaultProxy, Faults, ProxyStats};
use jilu_tests::{b3_file, random_file, Edge};
use serde_json::Value;
use tempfile::TempDir;

const MIB: u64 = 1 << 20;
/// One chunk of the transfer protocol.
const CHUNK: u64 = MIB;
const COUNTY: &str = "410422";

/// What QUIC adds to the chunk bytes the edge sends, as a fraction of them: packet
/// headers, STREAM frame headers and AEAD tags (~45 bytes per ~1450-byte packet on
/// loopback), plus the edge's ACKs and keep-alives. Measured at ~3% on a clean link
/// (see the figures printed by `edge_killed_mid_transfer_resumes`).
const QUIC_OVERHEAD: f64 = 0.05;
/// A handshake, the document round and an offer: bytes per session, generously.
const SESSION_OVERHEAD: u64 = 64 << 10;

fn seed(default: u64) -> u64 {
    std::env::var("JILU_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// xorshift64*, for the test's own choices (cut lengths).
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn millis(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(lo + (self.unit() * (hi - lo) as f64) as u64)
    }
}

/// A center, an edge of county 410422 pointed at it through a fault proxy, and the
/// tokio runtime the proxy runs on. Fields drop in order: proxy, runtime, processes,
/// folders.
struct Rig {
    proxy: FaultProxy,
    _rt: tokio::runtime::Runtime,
    center: Center,
    edge: Edge,
    _ca: Ca,
    _root: TempDir,
}

impl Rig {
    /// `extra` goes into the edge's `[center]` section (e.g. a bandwidth cap).
    fn new(name: &str, faults: Faults, seed: u64, extra: &str) -> Rig {
        eprintln!(
            "[{name}] proxy seed {seed} (JILU_FAULT_SEED={seed} to replay), faults {faults:?}"
        );
        let root = tempfile::tempdir().unwrap();
        let ca = Ca::new(root.path());
        let center = Center::start(root.path(), &ca);
        let edge = Edge::office(COUNTY, 0);
        edge.link(&ca, &center, COUNTY, extra);
        let rt = tokio::runtime::Runtime::new().unwrap();
        let proxy = rt
            .block_on(FaultProxy::start(center.addr, faults, seed))
            .unwrap();
        edge.set_center(&proxy.addr().to_string(), &center.name, &edge.node(), extra);
        Rig {
            proxy,
            _rt: rt,
            center,
            edge,
            _ca: ca,
            _root: root,
        }
    }

    /// Ingests `len` seeded random bytes; returns the item's hash, checked against
    /// an independent BLAKE3 of the file.
    fn ingest(&self, name: &str, len: u64, seed: u64, activity: Option<&str>) -> String {
        let path = random_file(self.edge.tmp.path(), name, len as usize, seed);
        let mut args = vec!["ingest", path.to_str().unwrap(), "--device", "cam-01"];
        if let Some(a) = activity {
            args.extend(["--activity", a]);
        }
        self.edge.ok(&args);
        let hash = b3_file(&path);
        std::fs::remove_file(&path).unwrap();
        let rec = self
            .item(&hash)
            .unwrap_or_else(|| panic!("{name} was not ingested"));
        assert_eq!(rec["size"].as_u64(), Some(len));
        hash
    }

    fn item(&self, hash: &str) -> Option<Value> {
        self.edge.items().into_iter().find(|i| i["hash"] == hash)
    }

    /// The center's partial file of an item (chunks written so far, at their offsets).
    fn partial(&self, hash: &str) -> PathBuf {
        // one partial file per item and sending node: `<hash>.<node>`
        let dir = self.center.dir.join("data/blobs/partial");
        std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&format!("{hash}.")))
            })
            .unwrap_or_else(|| dir.join(format!("{hash}.absent")))
    }

    fn partial_len(&self, hash: &str) -> u64 {
        std::fs::metadata(self.partial(hash)).map_or(0, |m| m.len())
    }

    /// Whether the center holds the item's verified blob.
    fn center_has_blob(&self, hash: &str) -> bool {
        self.center
            .dir
            .join("data/blobs")
            .join(&hash[..2])
            .join(hash)
            .exists()
    }

    /// `edge-node --json sync` (not --once), as a child process.
    fn spawn_sync(&self) -> Proc {
        let mut c = self.edge.cmd();
        c.args(["--json", "sync"]);
        Proc::spawn(c)
    }

    /// Polls the edge until `hash` is verified at the center (`center_verified_at`).
    fn wait_verified(&self, hash: &str, limit: Duration, sync: &mut Proc) {
        let t0 = Instant::now();
        loop {
            if self.item(hash).unwrap()["center_verified_at"].is_number() {
                return;
            }
            if let Some(st) = sync.child.try_wait().unwrap() {
                panic!("edge-node sync exited ({st}) before {hash} was verified");
            }
            assert!(
                t0.elapsed() < limit,
                "{hash} was not verified within {limit:?}; proxy {:?}; edge status {}",
                self.proxy.stats(),
                self.edge.json(&["status"])[0]["link"]
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Every item in `hashes` verified on both sides, with the blob hashing to its
    /// name, and the invariants of [`assert_converged`].
    fn assert_all_verified(&self, hashes: &[&str]) {
        let at_center = self.center.verified_items();
        for h in hashes {
            assert!(
                at_center.iter().any(|i| i["item"]["hash"] == *h),
                "{h} is not verified at the center"
            );
            assert!(
                self.item(h).unwrap()["center_verified_at"].is_number(),
                "the edge does not know {h} is verified"
            );
        }
        assert_converged(&self.center, &self.edge, COUNTY);
    }

    fn link_bytes_sent(&self) -> u64 {
        self.edge.json(&["status"])[0]["link"]["bytes_sent"]
            .as_u64()
            .unwrap_or(0)
    }
}

/// A child process whose output is collected on threads (so it never blocks on a
/// full pipe) and which is always waited for with a deadline.
struct Proc {
    child: Child,
    out: Option<JoinHandle<String>>,
    err: Option<JoinHandle<String>>,
    started: Instant,
}

struct Finished {
    status: ExitStatus,
    stdout: String,
    stderr: String,
    took: Duration,
}

impl Finished {
    /// The `--json` sync report: the last line of stdout.
    fn report(&self) -> Value {
        let line = self
            .stdout
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or_else(|| panic!("no report: {}{}", self.stdout, self.stderr));
        serde_json::from_str(line).unwrap()
    }
}

fn drain(mut r: impl Read + Send + 'static) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = r.read_to_string(&mut s);
        s
    })
}

impl Drop for Proc {
    /// A test that fails half-way must not leave its processes running.
    fn drop(&mut self) {
        if self.out.is_some() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Proc {
    fn spawn(mut cmd: Command) -> Proc {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let out = Some(drain(child.stdout.take().unwrap()));
        let err = Some(drain(child.stderr.take().unwrap()));
        Proc {
            child,
            out,
            err,
            started: Instant::now(),
        }
    }

    /// Waits for the process to exit by itself; a process still running after
    /// `limit` is a hang: killed, and the test fails.
    fn wait(mut self, limit: Duration, what: &str) -> Finished {
        let t0 = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return self.finish(status);
            }
            if t0.elapsed() > limit {
                let _ = self.child.kill();
                let status = self.child.wait().unwrap();
                let f = self.finish(status);
                panic!(
                    "{what} still running after {limit:?} (hang); stdout {} stderr {}",
                    f.stdout, f.stderr
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL.
    fn kill9(mut self) -> Finished {
        self.child.kill().unwrap();
        let status = self.child.wait().unwrap();
        self.finish(status)
    }

    /// SIGINT (Ctrl-C): `edge-node sync` stops cleanly and prints its report.
    fn interrupt(self, what: &str) -> Finished {
        let pid = self.child.id().to_string();
        let st = Command::new("kill").args(["-INT", &pid]).status().unwrap();
        assert!(st.success());
        self.wait(Duration::from_secs(20), what)
    }

    fn finish(&mut self, status: ExitStatus) -> Finished {
        Finished {
            status,
            stdout: self.out.take().unwrap().join().unwrap(),
            stderr: self.err.take().unwrap().join().unwrap(),
            took: self.started.elapsed(),
        }
    }
}

/// `edge-node --json sync --once --give-up SECS`, bounded in wall-clock time.
fn sync_once(edge: &Edge, give_up: u64) -> Finished {
    let mut c = edge.cmd();
    c.args([
        "--json",
        "sync",
        "--once",
        "--give-up",
        &give_up.to_string(),
    ]);
    Proc::spawn(c).wait(Duration::from_secs(give_up + 60), "edge-node sync --once")
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / MIB as f64
}

fn show(s: &ProxyStats) -> String {
    format!(
        "forwarded {} dropped {} duplicated {} reordered {}, {:.2} MiB edge→center, {:.2} MiB center→edge",
        s.forwarded,
        s.dropped,
        s.duplicated,
        s.reordered,
        mib(s.bytes_client_to_server),
        mib(s.bytes_server_to_client)
    )
}

// ---------------------------------------------------------------------------------

/// ~24 MiB in five items and an activity document over a link that loses 10%,
/// duplicates 5% and reorders 5% of the packets each way, with delay and jitter:
/// one `sync --once` gets everything across, intact.
#[test]
fn lossy_link_delivers_everything_intact() {
    let t0 = Instant::now();
    let faults = Faults {
        loss: 0.10,
        duplicate: 0.05,
        reorder: 0.05,
        delay: Duration::ZERO,
        jitter: Duration::from_millis(1),
        cycle: None,
    };
    let rig = Rig::new("lossy", faults, seed(0x1055), "");
    rig.edge.new_activity("A-1");
    let sizes = [8 * MIB + 3, 6 * MIB, 5 * MIB + 777, 3 * MIB, 2 * MIB - 1];
    let hashes: Vec<String> = sizes
        .iter()
        .enumerate()
        .map(|(i, &len)| {
            let act = (i % 2 == 0).then_some("A-1");
            rig.ingest(&format!("lossy-{i}.bin"), len, 100 + i as u64, act)
        })
        .collect();
    rig.edge.ok(&[
        "activity",
        "interruption",
        "A-1",
        "--reason",
        "weather",
        "--basis",
        "暴雨",
        "--from",
        "2026-11-20T09:30:00Z",
        "--to",
        "2026-11-20T09:40:00Z",
        "--by",
        "1001",
    ]);
    let total: u64 = sizes.iter().sum();

    let run = sync_once(&rig.edge, 120);
    assert!(
        run.status.success(),
        "sync --once failed over the lossy link: {}{}",
        run.stdout,
        run.stderr
    );
    let report = run.report();
    let s = rig.proxy.stats();
    eprintln!(
        "[lossy] {:.1} MiB in {} items synced in {:.1}s ({:.2} MiB/s), report {report}",
        mib(total),
        sizes.len(),
        run.took.as_secs_f64(),
        mib(total) / run.took.as_secs_f64()
    );
    eprintln!("[lossy] proxy: {}", show(&s));
    // the faults really happened (not left to chance)
    assert!(
        s.dropped > s.forwarded / 20,
        "too few drops for 10% loss: {s:?}"
    );
    assert!(s.duplicated > 0 && s.reordered > 0, "{s:?}");
    assert_eq!(report["items_verified"], sizes.len(), "{report}");
    assert!(report["docs_synced"].as_u64().unwrap() >= 1, "{report}");
    assert_eq!(report["locally_corrupt"], serde_json::json!([]));
    let h: Vec<&str> = hashes.iter().map(String::as_str).collect();
    rig.assert_all_verified(&h);
    assert!(rig
        .center
        .docs(COUNTY)
        .contains_key(&format!("activity/{COUNTY}/A-1")));
    // the center's copy of the interruption arrived whole
    let doc = rig
        .center
        .json(&["docs"])
        .into_iter()
        .find(|d| d["name"] == format!("activity/{COUNTY}/A-1"))
        .unwrap();
    assert_eq!(
        doc["content"]["activity"]["interruptions"][0]["basis"], "暴雨",
        "{doc}"
    );
    eprintln!("[lossy] total {:.1}s", t0.elapsed().as_secs_f64());
}

/// One ~32 MiB item; the link is cut 20 times while it transfers, for 1.5–2.5 s or
/// for 3.4–4 s (longer than the 3 s idle timeout: the connection dies and the edge
/// must reconnect on its own; most shorter cuts end it too, as QUIC's probe
/// backoff leaves no packet between ~1.9 s and ~3.8 s). Each cut comes once
/// 1.1–1.35 MiB crossed since the link came back. The item ends verified, and the
/// bytes that crossed the link are at most the item plus a chunk per cut (+2%, +
/// QUIC's overhead), and, tighter, the item plus what was in flight at each cut
/// beyond one chunk: the center keeps every chunk it received across a cut.
#[test]
fn twenty_cuts_resume_without_resending() {
    let t0 = Instant::now();
    let seed = seed(0x2020);
    // a bandwidth cap makes the transfer last long enough to be cut 20 times
    let rig = Rig::new(
        "cuts",
        Faults::default(),
        seed,
        "bandwidth_bytes_per_sec = 4194304",
    );
    let size = 32 * MIB + 12_345;
    let hash = rig.ingest("cuts.bin", size, 7, None);
    let mut rng = Rng::new(seed);
    // 8 long cuts and 12 short ones, in a seeded order
    let mut long = [true; 20];
    for l in long.iter_mut().skip(8) {
        *l = false;
    }
    for i in (1..20).rev() {
        long.swap(i, (rng.next() % (i as u64 + 1)) as usize);
    }
    let plan: Vec<Duration> = long
        .iter()
        .map(|&l| {
            if l {
                rng.millis(3400, 4000)
            } else {
                rng.millis(1500, 2500)
            }
        })
        .collect();
    eprintln!(
        "[cuts] plan (ms): {:?}",
        plan.iter().map(Duration::as_millis).collect::<Vec<_>>()
    );

    let mut sync = rig.spawn_sync();
    let mut last_restore = Instant::now();
    // what a correct edge and center may waste: the chunk in flight at each cut,
    // which is at most what crossed since the link came back beyond one chunk
    let mut may_waste = 0u64;
    for (i, cut) in plan.iter().enumerate() {
        // wait until a chunk and a bit more crossed since the link came back: the
        // cut falls in the middle of a flowing transfer, however slow the machine,
        // and each window completes at least one chunk even if the cut before
        // cost the connection
        let before = rig.proxy.stats().bytes_client_to_server;
        let window = CHUNK + rng.millis(100, 350).as_millis() as u64 * CHUNK / 1000;
        let waited = Instant::now();
        while rig.proxy.stats().bytes_client_to_server < before + window {
            if let Some(st) = sync.child.try_wait().unwrap() {
                panic!("edge-node sync exited ({st}) during the cuts");
            }
            assert!(
                waited.elapsed() < Duration::from_secs(30),
                "no progress 30 s after cut {i} ended: the edge did not resume; proxy {:?}",
                rig.proxy.stats()
            );
            // after a short cut QUIC sends what the edge queued meanwhile at once:
            // poll often, so the next cut still comes after about `window` bytes
            std::thread::sleep(Duration::from_millis(1));
        }
        let resumed_after = last_restore.elapsed();
        assert!(
            !rig.center_has_blob(&hash),
            "the item finished before cut {} of 20: the scenario needs a slower link",
            i + 1
        );
        rig.proxy.blackout(true);
        let flowed = rig.proxy.stats().bytes_client_to_server - before;
        may_waste += flowed.saturating_sub(CHUNK);
        std::thread::sleep(*cut);
        rig.proxy.blackout(false);
        last_restore = Instant::now();
        eprintln!(
            "[cuts] cut {:>2}: {:>4} ms, after {:.2} MiB in {:>4} ms since the previous one; center has {:>4.1} MiB",
            i + 1,
            cut.as_millis(),
            mib(flowed),
            resumed_after.as_millis(),
            mib(rig.partial_len(&hash))
        );
    }
    rig.wait_verified(&hash, Duration::from_secs(90), &mut sync);
    let done = sync.interrupt("edge-node sync after Ctrl-C");
    assert!(done.status.success(), "{}{}", done.stdout, done.stderr);
    let report = done.report();
    let s = rig.proxy.stats();
    let wire = s.bytes_client_to_server;
    let sessions = report["sessions"].as_u64().unwrap();
    let long_cuts = long.iter().filter(|l| **l).count() as u64;
    let quic = |payload: u64| {
        (payload as f64 * (1.0 + QUIC_OVERHEAD)) as u64 + sessions * SESSION_OVERHEAD
    };
    // the bound: the item, a chunk lost per cut, 2%; plus QUIC's own bytes
    let payload_bound = ((size + 20 * CHUNK) as f64 * 1.02) as u64;
    // and a tighter one: the item and what this test's cut placement can waste
    let tight_bound = size + may_waste;
    eprintln!(
        "[cuts] verified after {:.1}s; {sessions} sessions ({long_cuts} cuts longer than the idle timeout)",
        t0.elapsed().as_secs_f64()
    );
    eprintln!("[cuts] proxy: {}", show(&s));
    eprintln!(
        "[cuts] edge→center {:.2} MiB for a {:.2} MiB item ({:.3}×); bound item + 20 chunks + 2% = {:.2} MiB ({:.2} MiB with QUIC's overhead); tight bound item + chunks in flight at the cuts = {:.2} MiB ({:.2} MiB with overhead)",
        mib(wire),
        mib(size),
        wire as f64 / size as f64,
        mib(payload_bound),
        mib(quic(payload_bound)),
        mib(tight_bound),
        mib(quic(tight_bound))
    );
    // the edge counts only the bytes of an item's last, completed attempt
    eprintln!(
        "[cuts] edge's own figures (last attempt only): report bytes_sent {:.2} MiB, status link.bytes_sent {:.2} MiB",
        mib(report["bytes_sent"].as_u64().unwrap()),
        mib(rig.link_bytes_sent()),
    );
    assert!(s.dropped > 0, "the cuts dropped nothing: {s:?}");
    assert!(
        sessions > long_cuts,
        "{sessions} sessions: every cut longer than the idle timeout must end one"
    );
    assert!(
        wire <= quic(payload_bound),
        "{:.2} MiB crossed the link for a {:.2} MiB item: cuts made the edge resend",
        mib(wire),
        mib(size)
    );
    assert!(
        wire <= quic(tight_bound),
        "{:.2} MiB crossed the link for a {:.2} MiB item, {:.2} MiB more than the item and the chunks in flight at the cuts: chunks the center had received were sent again",
        mib(wire),
        mib(size),
        mib(wire.saturating_sub(quic(tight_bound)))
    );
    assert!(rig.link_bytes_sent() <= payload_bound);
    rig.assert_all_verified(&[&hash]);
    eprintln!("[cuts] total {:.1}s", t0.elapsed().as_secs_f64());
}

/// The center is killed with SIGKILL with ~60% of a 48 MiB item received, and
/// restarted 1.5 s later. The running edge reconnects on its own, the upload
/// resumes from what the center had made durable, and the item ends verified.
#[test]
fn center_killed_mid_transfer_resumes() {
    let t0 = Instant::now();
    let mut rig = Rig::new(
        "center-kill",
        Faults::default(),
        seed(0xC0FE),
        "bandwidth_bytes_per_sec = 16777216",
    );
    rig.edge.new_activity("A-3");
    let size = 48 * MIB + 99;
    let hash = rig.ingest("center-kill.bin", size, 31, Some("A-3"));
    let mut sync = rig.spawn_sync();
    let kill_at = size * 6 / 10;
    let t = Instant::now();
    while rig.partial_len(&hash) < kill_at {
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "the upload did not start"
        );
        if let Some(st) = sync.child.try_wait().unwrap() {
            panic!("edge-node sync exited ({st})");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(!rig.center_has_blob(&hash), "finished before the kill");
    rig.center.kill9();
    let at_kill = rig.partial_len(&hash);
    let wire_at_kill = rig.proxy.stats().bytes_client_to_server;
    eprintln!(
        "[center-kill] SIGKILL with {:.1} MiB of {:.1} MiB in the center's partial file ({:.1} MiB crossed the link)",
        mib(at_kill),
        mib(size),
        mib(wire_at_kill)
    );
    std::thread::sleep(Duration::from_millis(1500));
    rig.center.restart();
    let restarted = Instant::now();
    rig.wait_verified(&hash, Duration::from_secs(60), &mut sync);
    let resumed_in = restarted.elapsed();
    let done = sync.interrupt("edge-node sync after Ctrl-C");
    assert!(done.status.success(), "{}{}", done.stdout, done.stderr);
    let report = done.report();
    let s = rig.proxy.stats();
    let after = s.bytes_client_to_server - wire_at_kill;
    eprintln!(
        "[center-kill] verified {:.1}s after the restart; report {report}",
        resumed_in.as_secs_f64()
    );
    eprintln!(
        "[center-kill] proxy: {}; {:.2} MiB after the kill (item had {:.2} MiB left)",
        show(&s),
        mib(after),
        mib(size - at_kill)
    );
    assert!(report["sessions"].as_u64().unwrap() >= 2, "{report}");
    // not everything again: the total stays under twice the item ...
    assert!(s.bytes_client_to_server < 2 * size);
    // ... and, tighter, what was sent after the restart is what the center did not
    // have durably: the rest of the item, plus at most the unsynced chunks
    // (sync_every_chunks = 8) and a stream window (4 MiB) lost with the process
    let lost = 8 * CHUNK + 4 * CHUNK;
    let bound =
        ((size - at_kill + lost) as f64 * (1.0 + QUIC_OVERHEAD)) as u64 + 2 * SESSION_OVERHEAD;
    assert!(
        after <= bound,
        "{:.2} MiB sent after the restart, bound {:.2} MiB: the upload started over",
        mib(after),
        mib(bound)
    );
    rig.assert_all_verified(&[&hash]);
    // the restarted center still serves the documents it had
    assert!(rig
        .center
        .docs(COUNTY)
        .contains_key(&format!("activity/{COUNTY}/A-3")));
    eprintln!("[center-kill] total {:.1}s", t0.elapsed().as_secs_f64());
}

/// The edge is killed with SIGKILL mid-upload; `sync --once` then finishes the job,
/// sending only what the center does not hold.
#[test]
fn edge_killed_mid_transfer_resumes() {
    let t0 = Instant::now();
    let rig = Rig::new(
        "edge-kill",
        Faults::default(),
        seed(0xED6E),
        "bandwidth_bytes_per_sec = 16777216",
    );
    rig.edge.new_activity("A-4");
    let size = 40 * MIB + 5;
    let hash = rig.ingest("edge-kill.bin", size, 41, Some("A-4"));
    let small = rig.ingest("edge-kill-small.bin", 3 * MIB, 42, None);
    let sync = rig.spawn_sync();
    let kill_at = size * 6 / 10;
    let t = Instant::now();
    while rig.partial_len(&hash) < kill_at {
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "the upload did not start"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let killed = sync.kill9();
    let at_kill = rig.partial_len(&hash);
    let wire_at_kill = rig.proxy.stats().bytes_client_to_server;
    eprintln!(
        "[edge-kill] SIGKILL ({}) with {:.1} MiB of {:.1} MiB in the center's partial file; {:.2} MiB crossed the link ({:.3}× of it)",
        killed.status,
        mib(at_kill),
        mib(size),
        mib(wire_at_kill),
        wire_at_kill as f64 / at_kill as f64
    );
    assert!(!rig.center_has_blob(&hash), "finished before the kill");
    assert!(
        rig.item(&hash).unwrap()["center_verified_at"].is_null(),
        "the edge calls an item verified that the center does not hold"
    );

    let run = sync_once(&rig.edge, 60);
    assert!(run.status.success(), "{}{}", run.stdout, run.stderr);
    let report = run.report();
    let after = rig.proxy.stats().bytes_client_to_server - wire_at_kill;
    eprintln!(
        "[edge-kill] sync --once took {:.1}s: {report}; {:.2} MiB crossed the link",
        run.took.as_secs_f64(),
        mib(after)
    );
    eprintln!("[edge-kill] proxy: {}", show(&rig.proxy.stats()));
    let sent = report["bytes_sent"].as_u64().unwrap();
    // the rest of the big item (+ up to 8 chunks not yet made durable and a stream
    // window), and the small item unless it had finished before the kill
    let lost = 8 * CHUNK + 4 * CHUNK;
    assert!(
        sent <= size - at_kill + lost + 3 * MIB,
        "{:.2} MiB resent: the upload started over",
        mib(sent)
    );
    rig.assert_all_verified(&[&hash, &small]);
    eprintln!("[edge-kill] total {:.1}s", t0.elapsed().as_secs_f64());
}

/// The center's partial copy of an item is damaged while the center is down, in
/// a chunk it had already recorded as held (a torn write, a bad disk). The final
/// re-hash must catch it: the center never calls the item verified with those
/// bytes, starts the item over, and ends with a blob that hashes to its name.
#[test]
fn damaged_partial_at_the_center_is_never_verified() {
    let t0 = Instant::now();
    let mut rig = Rig::new(
        "center-damage",
        Faults::default(),
        seed(0xDA3A),
        "bandwidth_bytes_per_sec = 8388608",
    );
    let size = 16 * MIB + 3;
    let hash = rig.ingest("center-damage.bin", size, 61, None);
    let sync = rig.spawn_sync();
    // with chunk 9 written, chunks 0-7 are fsynced and recorded as held
    // (sync_every_chunks = 8)
    let t = Instant::now();
    while rig.partial_len(&hash) < 10 * CHUNK {
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "the upload did not start"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    sync.kill9();
    rig.center.kill9();
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(rig.partial(&hash))
            .unwrap();
        let at = 2 * CHUNK + 1234;
        let mut b = [0u8; 1];
        f.read_exact_at(&mut b, at).unwrap();
        b[0] ^= 0x01;
        f.write_all_at(&b, at).unwrap();
        f.sync_all().unwrap();
    }
    let wire_before = rig.proxy.stats().bytes_client_to_server;
    rig.center.restart();
    let run = sync_once(&rig.edge, 60);
    let wire = rig.proxy.stats().bytes_client_to_server - wire_before;
    eprintln!(
        "[center-damage] one bit of chunk 2 flipped in the center's partial file; sync --once took {:.1}s: {}; {:.2} MiB crossed the link after the restart",
        run.took.as_secs_f64(),
        run.stdout.trim(),
        mib(wire)
    );
    assert!(run.status.success(), "{}{}", run.stdout, run.stderr);
    // verified_items re-hashes every verified blob
    rig.assert_all_verified(&[&hash]);
    assert!(
        !rig.partial(&hash).exists(),
        "a partial file is left beside the verified blob"
    );
    // the damaged copy was thrown away and the item sent again in full
    assert!(
        wire >= size,
        "only {:.2} MiB sent after the restart: the damaged chunk was kept",
        mib(wire)
    );
    eprintln!("[center-damage] total {:.1}s", t0.elapsed().as_secs_f64());
}

/// Chunk 1 of a 4 MiB item is damaged in the edge's own store (one bit flipped).
/// `sync --once` must not send it (the center would refuse it anyway), must not
/// loop on it: it ends in bounded time, non-zero, naming the item as LOCAL
/// CORRUPTION; the healthy item is verified; the damaged one is not at the center,
/// and the next sync does not try it again.
#[test]
fn locally_corrupt_chunk_is_reported_not_sent() {
    let t0 = Instant::now();
    let rig = Rig::new("corrupt", Faults::default(), seed(0xBAD), "");
    let bad = rig.ingest("bad.bin", 4 * MIB, 51, None);
    let good = rig.ingest("good.bin", 2 * MIB + 17, 52, None);
    let rec = rig.item(&bad).unwrap();
    let ingest = rec["ingest"].as_u64().unwrap();
    let period = rec["period"].as_str().unwrap();
    let original;
    {
        use edge_node::store::{self, chunk_key, Mode};
        let store = store::open(&rig.edge.db_path(), Mode::ReadWrite, false).unwrap();
        let cf = store.cf(&format!("chunks-{period}")).unwrap();
        let key = chunk_key(ingest, 1);
        original = store.db.get_cf(&cf, key).unwrap().unwrap();
        assert_eq!(original.len() as u64, CHUNK);
        let mut damaged = original.clone();
        damaged[300_000] ^= 0x10;
        store.db.put_cf(&cf, key, &damaged).unwrap();
        store.db.flush_cf(&cf).unwrap();
        assert_eq!(store.db.get_cf(&cf, key).unwrap().unwrap(), damaged);
    }

    let run = sync_once(&rig.edge, 30);
    eprintln!(
        "[corrupt] sync --once exited {} after {:.1}s: {}",
        run.status,
        run.took.as_secs_f64(),
        run.stdout.trim()
    );
    assert!(
        run.took < Duration::from_secs(20) && !run.stderr.contains("gave up"),
        "it looped on the damaged item until it gave up ({:?}): {}",
        run.took,
        run.stderr
    );
    assert!(
        !run.status.success(),
        "local corruption must fail the sync: {}",
        run.stdout
    );
    let report = run.report();
    assert_eq!(
        report["locally_corrupt"],
        serde_json::json!([bad]),
        "{report}"
    );
    assert_eq!(report["items_verified"], 1, "{report}");
    let status = &rig.edge.json(&["status"])[0];
    assert_eq!(
        status["locally_corrupt"],
        serde_json::json!([bad]),
        "{status}"
    );
    let at_center = rig.center.verified_items();
    assert!(at_center.iter().any(|i| i["item"]["hash"] == good));
    assert!(
        !at_center.iter().any(|i| i["item"]["hash"] == bad),
        "the center holds the damaged item verified"
    );
    assert!(!rig.center_has_blob(&bad));
    assert!(rig.item(&bad).unwrap()["center_verified_at"].is_null());
    // the damaged chunk never reached the center's disk
    if let Ok(partial) = std::fs::read(rig.partial(&bad)) {
        if partial.len() as u64 >= 2 * CHUNK {
            let chunk1 = &partial[CHUNK as usize..2 * CHUNK as usize];
            assert!(
                chunk1.iter().all(|b| *b == 0) || chunk1 == original.as_slice(),
                "the center wrote the damaged chunk"
            );
        }
    }
    rig.assert_all_verified(&[&good]);

    // the next sync leaves it alone
    let again = sync_once(&rig.edge, 30);
    let r2 = again.report();
    eprintln!(
        "[corrupt] second sync --once exited {} after {:.1}s: {r2}",
        again.status,
        again.took.as_secs_f64()
    );
    assert_eq!(r2["bytes_sent"], 0, "{r2}");
    assert_eq!(r2["items_verified"], 0, "{r2}");
    assert!(again.took < Duration::from_secs(20));
    let status = &rig.edge.json(&["status"])[0];
    assert_eq!(
        status["locally_corrupt"],
        serde_json::json!([bad]),
        "{status}"
    );
    assert!(!rig.center_has_blob(&bad));
    assert_converged(&rig.center, &rig.edge, COUNTY);
    eprintln!(
        "[corrupt] proxy: {}; total {:.1}s",
        show(&rig.proxy.stats()),
        t0.elapsed().as_secs_f64()
    );
}
