//! Shared fixtures for Jilu's end-to-end tests and benchmarks: the built binaries,
//! temporary node directories, sample media and generated footage.
//!
//! Tests drive the real `edge-node` binary as a user would (real processes, real
//! RocksDB on disk), and check outcomes: bytes, hashes, exit codes, audit entries.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use tempfile::TempDir;

/// A binary built from this workspace, found beside the test executable
/// (`target/<profile>/deps/test-*` → `target/<profile>/<name>`).
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let mut dir = exe.parent().expect("exe dir").to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is not built: run the tests with `cargo test --release --workspace` (it builds every binary)",
        path.display()
    );
    path
}

pub fn edge_bin() -> PathBuf {
    binary("edge-node")
}

/// A shipped sample file under `tests/data`.
pub fn sample(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data")
        .join(name)
}

/// Writes `len` pseudo-random bytes (seeded, so runs repeat) to `dir/name`.
pub fn random_file(dir: &Path, name: &str, len: usize, seed: u64) -> PathBuf {
    let path = dir.join(name);
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut left = len;
    let mut buf = vec![0u8; 1 << 16];
    while left > 0 {
        for b in buf.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
        let n = left.min(buf.len());
        f.write_all(&buf[..n]).expect("write");
        left -= n;
    }
    f.flush().expect("flush");
    path
}

/// BLAKE3 of a whole file, computed independently of Jilu's chunk tree.
pub fn b3_file(path: &Path) -> String {
    let bytes = std::fs::read(path).expect("read");
    blake3::hash(&bytes).to_hex().to_string()
}

/// RFC 3339 "now" with an offset in seconds (for device clocks and activity times).
pub fn rfc3339_in(secs: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
        + secs;
    let out = Command::new("date")
        .args(["-u", "-d", &format!("@{now}"), "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .expect("date");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// An edge node's data directory and a way to run `edge-node` against it.
pub struct Edge {
    pub tmp: TempDir,
    pub dir: PathBuf,
}

impl Edge {
    /// A fresh, initialised edge node for county `county`.
    pub fn new(county: &str) -> Edge {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("edge");
        let e = Edge { tmp, dir };
        e.ok(&[
            "init",
            "--node",
            &format!("edge-{county}"),
            "--county",
            county,
        ]);
        e
    }

    /// A node with device `cam-01` (body camera) checked out to officer `1001`, its
    /// clock `clock_offset_secs` ahead of the station's.
    pub fn office(county: &str, clock_offset_secs: i64) -> Edge {
        let e = Edge::new(county);
        e.ok(&[
            "device",
            "add",
            "cam-01",
            "--kind",
            "body-camera",
            "--serial",
            "SN-0001",
            "--unit",
            "一队",
        ]);
        e.ok(&["officer", "add", "1001", "--name", "张三", "--unit", "一队"]);
        let clock = rfc3339_in(clock_offset_secs);
        let mut args = vec![
            "checkout",
            "cam-01",
            "--officer",
            "1001",
            "--purpose",
            "现场检查",
            "--battery",
            "90",
            "--free-mb",
            "9000",
            "--works",
            "yes",
            "--device-clock",
            &clock,
        ];
        if clock_offset_secs.abs() > 5 {
            args.extend(["--override", "clock checked, offset recorded"]);
        }
        e.ok(&args);
        e
    }

    /// Registers body camera `id` and checks it out to officer `1001` (who must
    /// exist, as in [`Edge::office`]), so a docked folder of it can be ingested.
    /// An office (see [`Edge::office`]) with activity A-1 (see [`Edge::new_activity`]).
    pub fn office_with_a1(county: &str) -> Edge {
        let e = Edge::office(county, 0);
        e.new_activity("A-1");
        e
    }

    /// Records activity `id`: matter 1 at 某企业, officer 1001, 09:00 to 10:00 on
    /// 2026-11-20 (UTC).
    pub fn new_activity(&self, id: &str) {
        self.ok(&[
            "activity",
            "new",
            "--id",
            id,
            "--matter",
            "1",
            "--place",
            "某企业",
            "--officer",
            "1001",
            "--arrival",
            "2026-11-20T09:00:00Z",
            "--departure",
            "2026-11-20T10:00:00Z",
        ]);
    }

    /// Files an interruption record of `activity` (weather, 暴雨, by officer 1001)
    /// from `from` to `to` (HH:MM on 2026-11-20, UTC).
    pub fn interruption(&self, activity: &str, from: &str, to: &str) {
        self.ok(&[
            "activity",
            "interruption",
            activity,
            "--reason",
            "weather",
            "--basis",
            "暴雨",
            "--from",
            &format!("2026-11-20T{from}:00Z"),
            "--to",
            &format!("2026-11-20T{to}:00Z"),
            "--by",
            "1001",
        ]);
    }

    /// Registers body camera `id` (serial `SN-<id>`, unit 一队).
    pub fn add_device(&self, id: &str) {
        self.ok(&[
            "device",
            "add",
            id,
            "--kind",
            "body-camera",
            "--serial",
            &format!("SN-{id}"),
            "--unit",
            "一队",
        ]);
    }

    /// Records activity `id` under way now: matter 1 at 人民路口, officer 1001,
    /// arrived at the current time, no departure yet (today's activity).
    pub fn new_activity_now(&self, id: &str) {
        let now = rfc3339_in(0);
        self.ok(&[
            "activity",
            "new",
            "--id",
            id,
            "--matter",
            "1",
            "--place",
            "人民路口",
            "--officer",
            "1001",
            "--arrival",
            &now,
        ]);
    }

    pub fn add_camera(&self, id: &str) {
        self.add_device(id);
        let clock = rfc3339_in(0);
        self.ok(&[
            "checkout",
            id,
            "--officer",
            "1001",
            "--purpose",
            "现场检查",
            "--battery",
            "90",
            "--free-mb",
            "9000",
            "--works",
            "yes",
            "--device-clock",
            &clock,
        ]);
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new(edge_bin());
        c.env("JILU_EDGE_DIR", &self.dir)
            .env_remove("JILU_ACTOR")
            .env("JILU_LOG", "error");
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().expect("run edge-node")
    }

    /// Runs and asserts success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "edge-node {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs and asserts failure; returns stderr.
    pub fn fail(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            !out.status.success(),
            "edge-node {args:?} should have failed but printed {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// Runs with `--json` and parses one value per stdout line.
    pub fn json(&self, args: &[&str]) -> Vec<Value> {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        self.ok(&all)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).expect("json line"))
            .collect()
    }

    /// Items held, as `items --json` lists them.
    pub fn items(&self) -> Vec<Value> {
        self.json(&["items"])
    }

    /// Exports an item and returns the exported bytes.
    pub fn export(&self, hash: &str) -> Vec<u8> {
        let out = self.tmp.path().join(format!("export-{}", &hash[..16]));
        let _ = std::fs::remove_file(&out);
        self.ok(&["export", hash, "--out", out.to_str().expect("utf8")]);
        std::fs::read(&out).expect("exported file")
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.join("db")
    }
}

/// stderr must be one clear line (what failed, what to do).
pub fn assert_one_line(stderr: &str) {
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one error line, got: {stderr}");
    assert!(
        lines[0].starts_with("error: "),
        "expected 'error: ...', got: {stderr}"
    );
}

pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

pub fn find<'a>(values: &'a [Value], key: &str, want: &str) -> Option<&'a Value> {
    values.iter().find(|v| v[key].as_str() == Some(want))
}

pub mod api;
pub mod bench;
pub mod cluster;
pub mod compose;
pub mod doc_fixture;
pub mod fault_proxy;
pub mod hostile;
pub mod many_docs;
pub mod web;

// `doc07` is common/src/doc.rs itself compiled against automerge 0.7.4, so the
// upgrade tests and `jilu-bench-automerge` run Jilu's very mapping on the previous
// release. Its `use automerge::…` must find 0.7.4: this crate has no dependency
// named `automerge` (it reaches the current release as `jilu_common::automerge`),
// and the alias below puts 0.7.4 in the crate's extern prelude under that name.
// Left out of this crate's own unit tests: the module's tests need the rest of
// jilu-common.
extern crate automerge07 as automerge;
#[cfg(not(test))]
#[path = "../../common/src/doc.rs"]
pub mod doc07;

/// A running `edge-node run` (or `sync`, `dock watch`): the office's node, serving
/// every other command through its control socket. Killed on drop.
pub struct RunningNode {
    pub child: std::process::Child,
    pub log: PathBuf,
}

impl Edge {
    /// Starts `edge-node ARGS` as the node and waits until its control socket
    /// answers. Its output goes to a log file in the node's temp dir.
    pub fn start_node(&self, args: &[&str]) -> RunningNode {
        let log = self
            .tmp
            .path()
            .join(format!("node-{}.log", args.join("-").replace('/', "_")));
        let out = std::fs::File::create(&log).expect("node log");
        let child = self
            .cmd()
            .env("JILU_LOG", "info")
            .args(args)
            .stdout(out.try_clone().expect("log"))
            .stderr(out)
            .spawn()
            .expect("start the node");
        let sock = self.dir.join("control.sock");
        let started = std::time::Instant::now();
        while std::os::unix::net::UnixStream::connect(&sock).is_err() {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(30),
                "the node did not start serving: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        RunningNode { child, log }
    }
}

impl RunningNode {
    /// Sends SIGTERM and waits for the exit; returns the status and how long the
    /// node took to stop.
    pub fn terminate(mut self) -> (std::process::ExitStatus, std::time::Duration) {
        let started = std::time::Instant::now();
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        assert!(sent.success(), "kill -TERM {pid}");
        let status = self.child.wait().expect("wait for the node");
        (status, started.elapsed())
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for RunningNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
