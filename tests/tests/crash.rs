#![allow(clippy::unwrap_used)]
//! Crash safety of ingest: `edge-node ingest` is killed with SIGKILL at random points,
//! dozens of times, on one store. After every kill the store must show exactly what
//! the durability protocol (top of `edge-node/src/ingest.rs`) promises:
//!
//! - every item acknowledged so far (its JSON line printed in full by `ingest --json`)
//!   is listed by `items` with its size, and `verify` finds every chunk intact; items
//!   are exported and compared byte for byte, and by an independent BLAKE3, with their
//!   source files;
//! - no partial item is visible: every listed item is the BLAKE3 of a whole source
//!   file, with that file's size and chunk count, and the store holds no footage chunk
//!   that belongs neither to an item nor to the one ingest a pending marker names;
//! - the next read-write command discards what was interrupted (`status` shows no
//!   interrupted ingest and no chunk is left without its item), the audit log records
//!   one `ingest_discarded` per interrupted ingest and its chain still verifies;
//! - an ack says `duplicate` exactly when the same bytes were already held.
//!
//! Kill points are drawn two ways, half of the runs each: a delay after spawn, uniform
//! over the whole expected run (from before the store opens to after the last ack),
//! and a delay after the k-th ack, within the expected time of the next file, so that
//! kills inside a file happen however fast or loaded the machine is. Each run mixes
//! new files, files a killed run did not store (retried, as a keeper would), files
//! already held (the duplicate path) and byte-identical copies under new names. About a
//! third of the kills are not cleaned up before the next ingest, whose own open must
//! then recover them (and may itself be killed while it does).
//!
//! The seed is printed; `JILU_CRASH_SEED=N` replays its files and choices (kill timing
//! still depends on the machine); `JILU_CRASH_KILLS=N` sets the number of kills
//! (default 60). Run with `--nocapture` to see each run and the kill-point summary.
//!
//! SIGKILL loses what the process holds in memory (memtables written without the WAL,
//! buffers not yet handed to the kernel) but not what the kernel has: this proves the
//! protocol's ordering (flush and commit before the ack, recovery of what a crash cut
//! short), not its fsyncs, which only a power cut would test.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use edge_node::store::{self, Mode};
use jilu_common::chunk_tree::chunk_count;
use jilu_tests::{b3_file, random_file, Edge};
use serde_json::Value;

const MIB: u64 = 1 << 20;

/// splitmix64: seedable, enough to pick sizes, files and delays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[self.below(from.len() as u64) as usize]
    }
    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i as u64 + 1) as usize);
        }
    }
}

/// A file on the docked device; its bytes never change once written.
struct Source {
    path: PathBuf,
    hash: String,
    size: u64,
}

/// The device folder: files generated as the runs need them.
struct Pool {
    dir: PathBuf,
    files: Vec<Source>,
    /// chunk-boundary sizes handed out first
    special: Vec<u64>,
}

impl Pool {
    fn add(&mut self, size: u64, seed: u64) -> usize {
        let name = format!("VID{:04}.dat", self.files.len());
        self.push(random_file(&self.dir, &name, size as usize, seed))
    }

    /// A new file: first the chunk-boundary sizes, then mostly 3-12 MiB, some under 1 MiB.
    fn fresh(&mut self, rng: &mut Rng) -> usize {
        let size = match self.special.pop() {
            Some(s) => s,
            None if rng.chance(0.2) => rng.below(MIB),
            None => rng.range(3 * MIB, 12 * MIB),
        };
        self.add(size, rng.next())
    }

    /// The same bytes as file `of`, under a new name.
    fn copy_of(&mut self, of: usize) -> usize {
        let path = self.dir.join(format!("VID{:04}.dat", self.files.len()));
        std::fs::copy(&self.files[of].path, &path).expect("copy a source file");
        self.push(path)
    }

    fn push(&mut self, path: PathBuf) -> usize {
        let size = std::fs::metadata(&path).expect("source file").len();
        let hash = b3_file(&path);
        self.files.push(Source { path, hash, size });
        self.files.len() - 1
    }

    fn with_hash(&self, hash: &str) -> &Source {
        self.files
            .iter()
            .find(|f| f.hash == hash)
            .expect("a source file with this hash")
    }
}

#[derive(Clone, Copy, Debug)]
enum KillAt {
    /// this long after the process was started
    Spawn(Duration),
    /// this long after the k-th ack line arrived
    Ack(usize, Duration),
    /// let it finish (calibration)
    Never,
}

impl std::fmt::Display for KillAt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KillAt::Spawn(d) => write!(f, "kill {:.1} ms after spawn", ms(*d)),
            KillAt::Ack(k, d) => write!(f, "kill {:.1} ms after ack {k}", ms(*d)),
            KillAt::Never => write!(f, "no kill"),
        }
    }
}

/// What one `ingest` process printed before it died or finished.
struct Run {
    /// complete JSON lines, with when they arrived: the acknowledged items
    acks: Vec<(Duration, Value)>,
    /// a line the kill cut short (not an ack)
    partial_line: bool,
    killed: bool,
    /// when SIGKILL was sent (after spawn)
    kill_time: Duration,
    stderr: String,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn from_ms(ms: f64) -> Duration {
    Duration::from_secs_f64(ms.max(0.0) / 1000.0)
}

/// Runs `edge-node --json ingest FILES --device cam-01`, reading acks as they are
/// printed, and sends it SIGKILL at `at`.
fn ingest_and_kill(edge: &Edge, files: &[&Path], at: KillAt, scratch: &Path) -> Run {
    let err_path = scratch.join("ingest.stderr");
    let err_file = File::create(&err_path).expect("stderr file");
    let mut child = edge
        .cmd()
        .args(["--json", "ingest"])
        .args(files)
        .args(["--device", "cam-01"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(err_file)
        .spawn()
        .expect("start edge-node ingest");
    let t0 = Instant::now();
    let stdout = child.stdout.take().expect("ingest stdout");
    let (tx, rx) = mpsc::channel::<(Duration, Vec<u8>)>();
    let reader = std::thread::spawn(move || {
        let mut r = BufReader::new(stdout);
        loop {
            let mut line = Vec::new();
            match r.read_until(b'\n', &mut line) {
                Ok(0) => return false,
                Ok(_) if line.ends_with(b"\n") => {
                    let _ = tx.send((t0.elapsed(), line));
                }
                Ok(_) => return true, // cut short by the kill: not an acknowledgement
                Err(e) => panic!("reading ingest output: {e}"),
            }
        }
    });
    let parse = |(t, line): (Duration, Vec<u8>)| -> (Duration, Value) {
        let v = serde_json::from_slice(&line).unwrap_or_else(|e| {
            panic!(
                "ingest printed a line that is not JSON ({e}): {}",
                String::from_utf8_lossy(&line)
            )
        });
        (t, v)
    };
    let mut acks = Vec::new();
    let wake = match at {
        KillAt::Spawn(d) => Some(t0 + d),
        KillAt::Ack(k, d) => {
            while acks.len() < k {
                match rx.recv_timeout(Duration::from_secs(120)) {
                    Ok(line) => acks.push(parse(line)),
                    Err(RecvTimeoutError::Disconnected) => break, // it ended first
                    Err(RecvTimeoutError::Timeout) => panic!("ingest printed no ack for 120 s"),
                }
            }
            Some(Instant::now() + d)
        }
        KillAt::Never => None,
    };
    let mut kill_time = Duration::ZERO;
    if let Some(wake) = wake {
        if let Some(left) = wake.checked_duration_since(Instant::now()) {
            std::thread::sleep(left);
        }
        kill_time = t0.elapsed();
        // SIGKILL on Unix; harmless if the process has already exited (not yet reaped)
        child.kill().expect("send SIGKILL");
    }
    let status = child.wait().expect("wait for ingest");
    let partial_line = reader.join().expect("output reader");
    acks.extend(rx.try_iter().map(parse));
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    let killed = status.signal() == Some(libc::SIGKILL);
    assert!(
        killed || status.success(),
        "ingest ended by itself with {status} (not the kill): {stderr}"
    );
    Run {
        acks,
        partial_line,
        killed,
        kill_time,
        stderr,
    }
}

/// What the store holds below the CLI, read-only as `status` opens it: the pending
/// markers and the ingest ids that own footage chunks.
struct Probe {
    pending: BTreeSet<u64>,
    chunk_owners: BTreeSet<u64>,
}

fn probe(edge: &Edge) -> Probe {
    let node =
        edge_node::edge::Edge::open(&edge.dir, Mode::ReadOnly).expect("open the store read-only");
    let pending = node
        .store
        .scan(store::PENDING)
        .expect("scan pending markers")
        .iter()
        .map(|(k, _)| store::read_be64(k).expect("pending key"))
        .collect();
    let mut chunk_owners = BTreeSet::new();
    for period in store::periods(&node.store).expect("footage periods") {
        let cf = node
            .store
            .cf(&format!("chunks-{period}"))
            .expect("footage column family");
        let mut it = node.store.db.raw_iterator_cf(&cf);
        it.seek_to_first();
        while it.valid() {
            let id = store::read_be64(it.key().expect("chunk key")).expect("chunk key");
            chunk_owners.insert(id);
            it.seek(store::chunk_key(id + 1, 0)); // next ingest's chunks
        }
        it.status().expect("read footage keys");
    }
    Probe {
        pending,
        chunk_owners,
    }
}

/// Items as listed, checked against the sources and the acks: returns hash → ingest id.
fn check_items(
    edge: &Edge,
    pool: &Pool,
    acked: &BTreeMap<String, u64>,
    when: &str,
) -> BTreeMap<String, u64> {
    let sources: BTreeMap<&str, &Source> =
        pool.files.iter().map(|f| (f.hash.as_str(), f)).collect();
    let mut held = BTreeMap::new();
    for it in edge.items() {
        let hash = it["hash"].as_str().expect("item hash").to_string();
        let size = it["size"].as_u64().expect("item size");
        let src = sources.get(hash.as_str()).unwrap_or_else(|| {
            panic!("{when}: partial item visible: {hash} ({size} B) is not the BLAKE3 of any whole source file")
        });
        assert_eq!(size, src.size, "{when}: item {hash} has the wrong size");
        assert_eq!(
            it["chunks"].as_u64(),
            Some(chunk_count(size)),
            "{when}: item {hash} chunk count"
        );
        let ingest = it["ingest"].as_u64().expect("item ingest id");
        assert!(
            held.insert(hash.clone(), ingest).is_none(),
            "{when}: item {hash} listed twice"
        );
    }
    for (hash, size) in acked {
        assert!(
            held.contains_key(hash),
            "{when}: acknowledged item {hash} ({size} B) is LOST"
        );
    }
    let verify = edge.run(&["--json", "verify"]);
    let report: Vec<Value> = String::from_utf8_lossy(&verify.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("verify json"))
        .collect();
    for r in &report {
        assert_eq!(r["ok"], true, "{when}: verify found a damaged item: {r}");
    }
    assert!(
        verify.status.success(),
        "{when}: verify failed: {}",
        String::from_utf8_lossy(&verify.stderr)
    );
    assert_eq!(
        report.len(),
        held.len(),
        "{when}: verify checked a different number of items than listed"
    );
    held
}

/// Exports `hash` and compares it with its source, byte for byte and by BLAKE3.
/// Export opens the store read-write, so it also cleans up interrupted ingests;
/// returns its stderr.
fn export_and_compare(edge: &Edge, pool: &Pool, hash: &str) -> String {
    let src = pool.with_hash(hash);
    let out = edge.tmp.path().join(format!("export-{}", &hash[..16]));
    let _ = std::fs::remove_file(&out);
    let run = edge.run(&["export", hash, "--out", out.to_str().expect("utf-8 path")]);
    let stderr = String::from_utf8_lossy(&run.stderr).into_owned();
    assert!(run.status.success(), "export {hash} failed: {stderr}");
    let bytes = std::fs::read(&out).expect("exported file");
    assert_eq!(
        bytes.len() as u64,
        src.size,
        "export of {hash}: wrong length"
    );
    assert_eq!(
        blake3::hash(&bytes).to_hex().as_str(),
        hash,
        "export of {hash}: wrong BLAKE3"
    );
    assert!(
        bytes == std::fs::read(&src.path).expect("source"),
        "export of {hash}: bytes differ from the source"
    );
    std::fs::remove_file(&out).expect("remove export");
    stderr
}

fn interrupted(edge: &Edge) -> u64 {
    edge.json(&["status"])[0]["interrupted_ingests"]
        .as_u64()
        .expect("interrupted_ingests")
}

fn audit_intact(edge: &Edge, when: &str) {
    let report = &edge.json(&["audit", "verify"])[0];
    assert_eq!(
        report["problems"],
        serde_json::json!([]),
        "{when}: audit log broken: {report}"
    );
}

/// Kill-point tally, printed at the end.
#[derive(Default)]
struct Tally {
    runs: usize,
    killed: usize,
    completed: usize,
    /// killed before any ack: before the first item began (start, store open, recovery) ...
    startup: Vec<f64>,
    /// ... or inside the first item
    first_item: Vec<f64>,
    /// killed with some but not all items acked
    midway: Vec<f64>,
    /// killed after the last ack (on the way out)
    after_all: Vec<f64>,
    /// killed with a pending marker left: inside an item, before its record was committed
    inside_item: usize,
    /// ... of which after the item's flush (its chunks were on disk, its record not)
    after_flush: usize,
    /// killed between two items (some acked, no marker left)
    between_items: usize,
    /// killed after an item's record was committed, before its ack was printed
    committed_unacked: usize,
    partial_lines: usize,
    recovered_by_next_ingest: usize,
}

fn span(v: &[f64]) -> String {
    if v.is_empty() {
        return String::new();
    }
    let lo = v.iter().cloned().fold(f64::INFINITY, f64::min);
    let hi = v.iter().cloned().fold(0.0, f64::max);
    format!(" (killed {lo:.1}-{hi:.1} ms after spawn)")
}

#[test]
fn sigkill_during_ingest_loses_no_acked_item_and_shows_no_partial_one() {
    let started = Instant::now();
    let seed = std::env::var("JILU_CRASH_SEED")
        .ok()
        .map(|s| s.parse::<u64>().expect("JILU_CRASH_SEED: a number"))
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("clock")
                .as_nanos() as u64
        });
    let kills: usize = std::env::var("JILU_CRASH_KILLS")
        .ok()
        .map(|s| s.parse().expect("JILU_CRASH_KILLS: a number"))
        .unwrap_or(60);
    println!("crash test: seed {seed} (replay with JILU_CRASH_SEED={seed}), {kills} kills");
    let mut rng = Rng(seed);

    let edge = Edge::office("410402", 0);
    let scratch = edge.tmp.path().to_path_buf();
    let dir = scratch.join("device");
    std::fs::create_dir(&dir).expect("device folder");
    let mut pool = Pool {
        dir,
        files: Vec::new(),
        special: vec![2 * MIB, MIB - 1, MIB + 1, MIB],
    };

    // hash → size of every item acknowledged so far, and how many acks each had
    let mut acked: BTreeMap<String, u64> = BTreeMap::new();
    let mut ack_count: BTreeMap<String, usize> = BTreeMap::new();
    // every pending marker ever seen: each must end as one `ingest_discarded`
    let mut pending_seen: BTreeSet<u64> = BTreeSet::new();
    // files given to a killed run and not stored: the keeper ingests them again
    let mut unstored: Vec<usize> = Vec::new();
    let mut tally = Tally::default();

    // Calibration: one complete run (1 B, 8 MiB, 0 B) to time process start, the fixed
    // cost of an item and the cost of a MiB on this machine.
    let cal = [
        pool.add(1, rng.next()),
        pool.add(8 * MIB, rng.next()),
        pool.add(0, rng.next()),
    ];
    let paths: Vec<&Path> = cal.iter().map(|&i| pool.files[i].path.as_path()).collect();
    let run = ingest_and_kill(&edge, &paths, KillAt::Never, &scratch);
    assert_eq!(run.acks.len(), 3, "calibration ingest: {}", run.stderr);
    for (&i, (_, ack)) in cal.iter().zip(&run.acks) {
        assert_eq!(ack["hash"], pool.files[i].hash.as_str());
        acked.insert(pool.files[i].hash.clone(), pool.files[i].size);
        *ack_count.entry(pool.files[i].hash.clone()).or_default() += 1;
    }
    let t: Vec<f64> = run.acks.iter().map(|(t, _)| ms(*t)).collect();
    let item_ms = (t[2] - t[1]).max(0.5);
    let mut startup_ms = (t[0] - item_ms).max(1.0);
    let mut mib_ms = ((t[1] - t[0] - item_ms) / 8.0).max(0.5);
    println!("calibration: start {startup_ms:.1} ms, item {item_ms:.1} ms, {mib_ms:.2} ms/MiB");
    let file_ms = |size: u64, mib_ms: f64| item_ms + size as f64 / MIB as f64 * mib_ms;
    // hash → ingest id of the items listed at the last check
    let mut held = check_items(&edge, &pool, &acked, "after calibration");

    while tally.killed < kills {
        tally.runs += 1;
        let n_run = tally.runs;
        assert!(
            n_run <= 3 * kills,
            "{} of {n_run} runs finished before their kill: the kill delays are far too long",
            tally.completed
        );
        let when = format!("run {n_run} (seed {seed})");

        // the files: retries of unstored ones, new ones, maybe one already held
        let mut chosen: Vec<usize> = Vec::new();
        rng.shuffle(&mut unstored);
        for _ in 0..rng.below(3) {
            if let Some(i) = unstored.pop() {
                chosen.push(i);
            }
        }
        for _ in 0..rng.range(1, 2) {
            let i = if rng.chance(0.1) {
                pool.copy_of(rng.below(pool.files.len() as u64) as usize)
            } else {
                pool.fresh(&mut rng)
            };
            chosen.push(i);
        }
        if rng.chance(0.4) {
            let known: Vec<usize> = (0..pool.files.len())
                .filter(|i| held.contains_key(&pool.files[*i].hash) && !chosen.contains(i))
                .collect();
            if !known.is_empty() {
                chosen.push(rng.pick(&known));
            }
        }
        while chosen.len() < 2 {
            chosen.push(pool.fresh(&mut rng));
        }
        rng.shuffle(&mut chosen);
        let n = chosen.len();
        let sizes: Vec<u64> = chosen.iter().map(|&i| pool.files[i].size).collect();

        // where to kill: anywhere in the whole run, or inside a chosen file
        let whole = startup_ms + sizes.iter().map(|&s| file_ms(s, mib_ms)).sum::<f64>() + item_ms;
        let at = if rng.chance(0.5) {
            KillAt::Spawn(from_ms(rng.unit() * 1.25 * whole))
        } else {
            match rng.below(n as u64) as usize {
                0 => KillAt::Spawn(from_ms(
                    rng.unit() * (startup_ms + file_ms(sizes[0], mib_ms)) * 1.1,
                )),
                k => KillAt::Ack(k, from_ms(rng.unit() * file_ms(sizes[k], mib_ms) * 1.1)),
            }
        };

        let paths: Vec<&Path> = chosen
            .iter()
            .map(|&i| pool.files[i].path.as_path())
            .collect();
        let run = ingest_and_kill(&edge, &paths, at, &scratch);
        assert!(
            !run.stderr.contains("error:"),
            "{when}: ingest reported an error before the kill: {}",
            run.stderr
        );

        // 1. the acks: one per file, in order, each the whole file; `duplicate` exactly
        //    when the bytes were held before
        assert!(run.acks.len() <= n, "{when}: more acks than files");
        let mut held_now: BTreeSet<String> = held.keys().cloned().collect();
        for (&i, (_, ack)) in chosen.iter().zip(&run.acks) {
            let src = &pool.files[i];
            assert_eq!(
                ack["path"],
                src.path.to_str().expect("utf-8"),
                "{when}: acks out of order"
            );
            assert_eq!(
                ack["hash"],
                src.hash.as_str(),
                "{when}: ack of {} has the wrong hash",
                src.path.display()
            );
            assert_eq!(
                ack["item"]["hash"],
                src.hash.as_str(),
                "{when}: ack item hash"
            );
            assert_eq!(ack["size"].as_u64(), Some(src.size), "{when}: ack size");
            let was_held = !held_now.insert(src.hash.clone());
            assert_eq!(
                ack["duplicate"].as_bool(),
                Some(was_held),
                "{when}: ack of {} says duplicate={} but the bytes were {}held",
                src.path.display(),
                ack["duplicate"],
                if was_held { "" } else { "not " }
            );
            acked.insert(src.hash.clone(), src.size);
            *ack_count.entry(src.hash.clone()).or_default() += 1;
        }
        // follow the machine: the store's open slows as it grows, and load varies
        if let Some((t1, _)) = run.acks.first() {
            startup_ms = 0.7 * startup_ms + 0.3 * (ms(*t1) - file_ms(sizes[0], mib_ms)).max(1.0);
        }
        for (k, pair) in run.acks.windows(2).enumerate() {
            if sizes[k + 1] >= 2 * MIB {
                let gap = ms(pair[1].0) - ms(pair[0].0) - item_ms;
                mib_ms = 0.7 * mib_ms + 0.3 * (gap / (sizes[k + 1] as f64 / MIB as f64)).max(0.2);
            }
        }
        if !run.killed {
            assert_eq!(
                run.acks.len(),
                n,
                "{when}: ingest finished but acked {} of {n} files: {}",
                run.acks.len(),
                run.stderr
            );
        }

        // 2. what the crash left, before anything cleans up (read-only commands only)
        let before = probe(&edge);
        assert_eq!(
            interrupted(&edge),
            before.pending.len() as u64,
            "{when}: status disagrees with the store about pending ingests"
        );
        let new_pending: Vec<u64> = before.pending.difference(&pending_seen).copied().collect();
        assert!(
            new_pending.len() <= usize::from(run.killed),
            "{when}: pending markers {new_pending:?} after a run that {}",
            if run.killed {
                "could leave one"
            } else {
                "finished"
            }
        );
        if !run.killed {
            assert!(
                before.pending.is_empty(),
                "{when}: a finished ingest left pending markers {:?}",
                before.pending
            );
        }
        let prior_pending = before.pending.len() - new_pending.len();
        pending_seen.extend(before.pending.iter().copied());
        let held_before: BTreeSet<String> = held_now;
        held = check_items(&edge, &pool, &acked, &when);
        // an item committed by the killed run whose ack never got printed: allowed
        // (it is whole, and its source is still on the device), but worth counting
        let unacked_new = held.keys().filter(|h| !held_before.contains(*h)).count();
        let owners: BTreeSet<u64> = held
            .values()
            .copied()
            .chain(before.pending.iter().copied())
            .collect();
        let orphans: Vec<&u64> = before.chunk_owners.difference(&owners).collect();
        assert!(
            orphans.is_empty(),
            "{when}: footage chunks of ingests {orphans:?} belong to no item and no pending ingest"
        );
        audit_intact(&edge, &when);

        // 3. tally where the kill landed
        let a = run.acks.len();
        let kill_ms = ms(run.kill_time);
        let flushed = new_pending
            .iter()
            .any(|id| before.chunk_owners.contains(id));
        let place = if !run.killed {
            tally.completed += 1;
            "finished before the kill".to_string()
        } else {
            tally.killed += 1;
            tally.partial_lines += usize::from(run.partial_line);
            tally.committed_unacked += usize::from(unacked_new > 0);
            if !new_pending.is_empty() {
                tally.inside_item += 1;
                tally.after_flush += usize::from(flushed);
            } else if a > 0 && a < n && unacked_new == 0 {
                tally.between_items += 1;
            }
            match (a, new_pending.is_empty()) {
                (0, true) => tally.startup.push(kill_ms),
                (0, false) => tally.first_item.push(kill_ms),
                (a, _) if a < n => tally.midway.push(kill_ms),
                _ => tally.after_all.push(kill_ms),
            }
            let inside = match (new_pending.is_empty(), flushed) {
                _ if unacked_new > 0 => "after an item's commit, before its ack was printed",
                (true, _) if a == 0 => "before the first item began",
                (true, _) if a == n => "after the last ack",
                (true, _) => "between items",
                (false, false) => "inside an item (chunks not yet flushed)",
                (false, true) => "inside an item, after its flush, before its commit",
            };
            format!("killed at {kill_ms:.1} ms, {inside}")
        };
        let mib = sizes.iter().sum::<u64>() as f64 / MIB as f64;
        println!(
            "run {n_run:3}: {n} files {mib:5.1} MiB, {at:<28} -> {a}/{n} acked, {place}{}",
            if prior_pending > 0 {
                format!("; {prior_pending} older marker(s) still pending")
            } else {
                String::new()
            }
        );

        // 4. usually, clean up now with a read-write command (export, compared with its
        //    source); otherwise the next ingest's own open must recover
        let last = tally.killed >= kills;
        if last || rng.chance(2.0 / 3.0) {
            let hash = rng.pick(&acked.keys().collect::<Vec<_>>()).clone();
            let stderr = export_and_compare(&edge, &pool, &hash);
            let p = before.pending.len();
            if p > 0 {
                assert!(
                    stderr.contains(&format!("discarded {p} ingest(s)")),
                    "{when}: export did not report discarding {p} interrupted ingest(s): {stderr}"
                );
            } else {
                assert!(
                    !stderr.contains("discarded"),
                    "{when}: nothing to discard, yet: {stderr}"
                );
            }
            assert_eq!(
                interrupted(&edge),
                0,
                "{when}: a read-write command left interrupted ingests"
            );
            let after = probe(&edge);
            assert!(after.pending.is_empty());
            let item_owners: BTreeSet<u64> = held.values().copied().collect();
            assert_eq!(
                after.chunk_owners, item_owners,
                "{when}: after recovery, footage chunks are owned by exactly the items"
            );
            audit_intact(&edge, &format!("{when}, after cleanup"));
        } else if !before.pending.is_empty() {
            tally.recovered_by_next_ingest += 1;
        }

        unstored.extend(chosen.iter().copied());
        unstored.retain(|i| !held.contains_key(&pool.files[*i].hash));
        unstored.sort();
        unstored.dedup();
    }

    // Finally: everything held exports to its source's exact bytes, and the audit log
    // tells the whole story.
    held = check_items(&edge, &pool, &acked, "at the end");
    for hash in held.keys() {
        export_and_compare(&edge, &pool, hash);
    }
    let log = edge.json(&["audit", "show"]);
    let discarded: BTreeSet<String> = log
        .iter()
        .filter(|e| e["action"] == "ingest_discarded")
        .map(|e| e["subject"].as_str().expect("subject").to_string())
        .collect();
    let expected: BTreeSet<String> = pending_seen
        .iter()
        .map(|id| format!("ingest:{id}"))
        .collect();
    assert_eq!(
        discarded, expected,
        "one ingest_discarded audit entry per interrupted ingest"
    );
    for hash in held.keys() {
        let entries = log
            .iter()
            .filter(|e| e["action"] == "ingest" && e["subject"] == format!("item:{hash}").as_str())
            .count();
        let acks = ack_count.get(hash).copied().unwrap_or(0);
        assert!(
            entries >= acks.max(1),
            "item {hash}: {entries} ingest custody entries for {acks} acks"
        );
    }
    audit_intact(&edge, "at the end");

    let t = &tally;
    let stored: u64 = held.keys().map(|h| pool.with_hash(h).size).sum();
    println!(
        "\n{} runs: {} killed, {} finished before their kill; {} items held ({:.0} MiB), {} acked, {} interrupted ingests discarded ({} by the next ingest's own open)",
        t.runs, t.killed, t.completed, held.len(), stored as f64 / MIB as f64, acked.len(), pending_seen.len(), t.recovered_by_next_ingest
    );
    println!("  killed before any ack:      {:3}  = {} before the first item began{} + {} inside the first item{}", t.startup.len() + t.first_item.len(), t.startup.len(), span(&t.startup), t.first_item.len(), span(&t.first_item));
    println!(
        "  killed mid-way (some acked): {:3}{}",
        t.midway.len(),
        span(&t.midway)
    );
    println!(
        "  killed after every ack:      {:3}{}",
        t.after_all.len(),
        span(&t.after_all)
    );
    println!(
        "  killed inside an item:       {:3}  ({} after its flush, before its commit)",
        t.inside_item, t.after_flush
    );
    println!("  killed between two items:    {:3}", t.between_items);
    println!(
        "  killed after a commit, before its ack line: {}",
        t.committed_unacked
    );
    println!("  ack lines cut short:         {:3}", t.partial_lines);
    println!("  time: {:.1} s", started.elapsed().as_secs_f64());

    assert!(t.killed >= 50, "at least 50 kills");
    assert!(
        !t.startup.is_empty() || !t.first_item.is_empty(),
        "no run was killed before its first ack"
    );
    assert!(
        t.killed > t.startup.len() + t.first_item.len(),
        "no run was killed after an ack"
    );
    assert!(
        !t.midway.is_empty(),
        "no run was killed with some but not all of its files acked"
    );
    assert!(t.inside_item > 0, "no run was killed inside an item");
}
