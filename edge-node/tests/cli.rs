#![allow(clippy::unwrap_used)]
//! The `edge-node` command line against bad input: every case must print one clear
//! line naming what was wrong and change nothing (no audit entry, no item, no
//! ledger line). Also builds the binary the workspace's end-to-end tests drive.
//!
//! Every case runs twice: with no node running (the command opens the store
//! itself) and with `edge-node run` holding the store (the command is handed to
//! it over the control socket). Same arguments, same output, same exit status:
//! the two paths cannot drift apart unnoticed.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// no node running: each command opens the store
    Direct,
    /// `edge-node run` holds the store and serves every command
    Daemon,
}

/// Declares a test for each mode.
macro_rules! both_modes {
    ($name:ident, $direct:ident, $daemon:ident) => {
        #[test]
        fn $direct() {
            $name(Mode::Direct)
        }
        #[test]
        fn $daemon() {
            $name(Mode::Daemon)
        }
    };
}

struct Node {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    scratch: PathBuf,
    daemon: Option<Child>,
}

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_edge-node"));
    c.env("JILU_LOG", "error");
    c
}

impl Node {
    fn new(mode: Mode) -> Node {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("edge");
        let scratch = tmp.path().join("scratch");
        std::fs::create_dir_all(&scratch).unwrap();
        let mut n = Node {
            _tmp: tmp,
            dir,
            scratch,
            daemon: None,
        };
        n.ok(&["init", "--node", "edge-t", "--county", "410402"]);
        if mode == Mode::Daemon {
            n.start_daemon();
        }
        n
    }

    /// Starts `edge-node run` and waits until its control socket answers.
    fn start_daemon(&mut self) {
        let log = std::fs::File::create(self.scratch.join("daemon.log")).unwrap();
        let child = bin()
            .env("JILU_EDGE_DIR", &self.dir)
            .env("JILU_LOG", "info")
            .arg("run")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.daemon = Some(child);
        wait_for_socket(&self.dir);
    }

    /// Stops the running node with SIGTERM; it must exit cleanly and promptly.
    fn stop_daemon(&mut self) {
        if let Some(mut child) = self.daemon.take() {
            let started = Instant::now();
            sigterm(&child);
            let status = child.wait().unwrap();
            assert!(status.success(), "the node exited with {status}");
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the node took {:?} to stop",
                started.elapsed()
            );
            assert!(
                !self.dir.join("control.sock").exists(),
                "a stopped node leaves no control socket"
            );
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        bin()
            .env("JILU_EDGE_DIR", &self.dir)
            .args(args)
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs a command that must fail with one `error:` line containing `want`, and
    /// checks that the audit log did not grow.
    fn refuses(&self, args: &[&str], want: &str) {
        let before = self.audit_len();
        let out = self.run(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} should fail");
        assert_eq!(out.status.code(), Some(1), "{args:?}: exit status");
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{args:?}: expected one line, got {stderr}");
        assert!(lines[0].starts_with("error: "), "{args:?}: {stderr}");
        assert!(
            lines[0].contains(want),
            "{args:?}: expected '{want}' in {stderr}"
        );
        assert_eq!(self.audit_len(), before, "{args:?} changed the audit log");
    }

    fn audit_len(&self) -> usize {
        self.ok(&["--json", "audit", "show"]).lines().count()
    }

    fn office(&self) {
        self.ok(&[
            "device",
            "add",
            "cam-01",
            "--kind",
            "body-camera",
            "--serial",
            "SN1",
            "--unit",
            "一队",
        ]);
        self.ok(&["officer", "add", "1001", "--name", "张三", "--unit", "一队"]);
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(mut child) = self.daemon.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn sigterm(child: &Child) {
    assert!(Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
}

fn wait_for_socket(dir: &Path) {
    let sock = dir.join("control.sock");
    let started = Instant::now();
    while std::os::unix::net::UnixStream::connect(&sock).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the node did not start serving on {}",
            sock.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn now_rfc3339() -> String {
    let out = Command::new("date")
        .args(["-u", "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn checkout_args<'a>(clock: &'a str, battery: &'a str) -> Vec<&'a str> {
    vec![
        "checkout",
        "cam-01",
        "--officer",
        "1001",
        "--purpose",
        "检查",
        "--battery",
        battery,
        "--free-mb",
        "9000",
        "--works",
        "yes",
        "--device-clock",
        clock,
    ]
}

#[test]
fn help_explains_the_commands() {
    let out = Command::new(env!("CARGO_BIN_EXE_edge-node"))
        .arg("--help")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for word in [
        "init",
        "checkout",
        "activity",
        "ingest",
        "dock",
        "audit",
        "status",
        "--data-dir",
        "--json",
    ] {
        assert!(text.contains(word), "--help lacks {word}: {text}");
    }
}

both_modes!(
    bad_input_gets_one_line_and_changes_nothing,
    bad_input_direct,
    bad_input_through_the_running_node
);
fn bad_input_gets_one_line_and_changes_nothing(mode: Mode) {
    let mut n = Node::new(mode);
    n.office();
    let file = n.scratch.join("a.mp4");
    std::fs::write(&file, b"not really a video").unwrap();
    let f = file.to_str().unwrap();

    n.refuses(&["ingest", f, "--device", "nope"], "unknown device 'nope'");
    n.refuses(
        &["ingest", f, "--device", "cam-01"],
        "has never been checked out",
    );
    n.refuses(
        &["ingest", f, "--device", "cam-01", "--officer", "9999"],
        "unknown officer '9999'",
    );
    n.refuses(
        &[
            "ingest",
            f,
            "--device",
            "cam-01",
            "--officer",
            "1001",
            "--activity",
            "A-x",
        ],
        "unknown activity 'A-x'",
    );
    let missing = n.scratch.join("gone.mp4");
    n.refuses(
        &[
            "ingest",
            missing.to_str().unwrap(),
            "--device",
            "cam-01",
            "--officer",
            "1001",
        ],
        "cannot read",
    );
    let empty = n.scratch.join("empty-dock");
    std::fs::create_dir_all(empty.join("DCIM")).unwrap();
    n.refuses(
        &[
            "ingest",
            empty.to_str().unwrap(),
            "--device",
            "cam-01",
            "--officer",
            "1001",
        ],
        "has nothing to ingest",
    );
    let fifo = n.scratch.join("pipe");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    n.refuses(
        &[
            "ingest",
            fifo.to_str().unwrap(),
            "--device",
            "cam-01",
            "--officer",
            "1001",
        ],
        "not a regular file",
    );

    n.refuses(
        &[
            "device", "add", "cam-01", "--kind", "camera", "--serial", "X", "--unit", "U",
        ],
        "already registered",
    );
    n.refuses(
        &[
            "device", "add", "../evil", "--kind", "camera", "--serial", "X", "--unit", "U",
        ],
        "not usable",
    );
    n.refuses(
        &["officer", "add", "1001", "--name", "李四", "--unit", "U"],
        "already registered",
    );
    n.refuses(
        &[
            "activity",
            "new",
            "--matter",
            "99",
            "--place",
            "p",
            "--officer",
            "1001",
            "--arrival",
            "2026-11-20T09:00:00Z",
        ],
        "unknown matter '99'",
    );
    n.refuses(
        &[
            "activity",
            "new",
            "--matter",
            "1",
            "--place",
            "p",
            "--officer",
            "1001",
            "--arrival",
            "yesterday",
        ],
        "is not a time",
    );
    n.refuses(
        &[
            "activity",
            "new",
            "--matter",
            "1",
            "--place",
            "p",
            "--officer",
            "1001",
            "--arrival",
            "2026-11-20T09:00:00Z",
            "--departure",
            "2026-11-20T08:00:00Z",
        ],
        "before arrival",
    );

    // pre-use check (art. 7): a failed check refuses the check-out unless overridden
    let clock = now_rfc3339();
    n.refuses(
        &checkout_args(&clock, "10"),
        "pre-use check failed for device 'cam-01': battery 10% is below 50%",
    );
    n.refuses(
        &checkout_args("2026-01-01T00:00:00Z", "90"),
        "device clock is off by",
    );
    assert!(
        n.ok(&["--json", "ledger"]).trim().is_empty(),
        "a refused check-out must leave no ledger line"
    );
    let mut with_override = checkout_args(&clock, "10");
    with_override.extend(["--override", "spare battery carried"]);
    n.ok(&with_override);
    n.refuses(
        &checkout_args(&clock, "90"),
        "already checked out to officer 1001",
    );
    let ledger: serde_json::Value =
        serde_json::from_str(n.ok(&["--json", "ledger"]).trim()).unwrap();
    assert_eq!(ledger["override_reason"], "spare battery carried");
    assert_eq!(ledger["check_failures"][0], "battery 10% is below 50%");
    assert!(ledger["check"]["clock_offset_ms"].as_i64().unwrap().abs() < 5_000);

    // nothing above stored an item
    assert!(n.ok(&["--json", "items"]).trim().is_empty());
    n.refuses(
        &[
            "export",
            "abcdef12",
            "--out",
            n.scratch.join("x").to_str().unwrap(),
        ],
        "no item with hash abcdef12",
    );
    n.refuses(&["item", "zz"], "is not an item hash");
    n.stop_daemon();
}

#[test]
fn commands_before_init_say_how_to_start() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_edge-node"))
        .env("JILU_EDGE_DIR", tmp.path().join("none"))
        .arg("status")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("edge-node init"), "{err}");
    assert!(
        !tmp.path().join("none").exists(),
        "a failed command must not create the store"
    );
    let n = Node::new(Mode::Direct);
    n.refuses(
        &["init", "--node", "x", "--county", "1"],
        "already holds an edge store",
    );
}

fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            out.push((p.clone(), std::fs::read(&p).unwrap()));
        }
    }
    out.sort();
    out
}

#[test]
fn corrupt_store_is_reported_and_left_untouched() {
    let n = Node::new(Mode::Direct);
    n.office();
    let db = n.dir.join("db");
    let manifest = std::fs::read_dir(&db)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("MANIFEST-")
        })
        .unwrap();
    let mut bytes = std::fs::read(&manifest).unwrap();
    let len = bytes.len();
    for b in &mut bytes[len / 3..len / 3 + 64] {
        *b ^= 0x5a;
    }
    std::fs::write(&manifest, &bytes).unwrap();
    let before = snapshot(&db);
    for args in [
        &["device", "list"][..],
        &["officer", "add", "2002", "--name", "x", "--unit", "u"][..],
        // a node does not start on a corrupt store either
        &["run"][..],
    ] {
        let out = n.run(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success(),
            "{args:?} should fail on a corrupt store"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.contains("is corrupt") && err.contains("restore it from backup"),
            "{err}"
        );
    }
    assert_eq!(
        snapshot(&db),
        before,
        "a failed open must not repair or rewrite the store"
    );
}

/// Holds RocksDB's lock on `dir/db` from another process (as a one-shot command
/// that is still running does) until the returned child is killed.
fn hold_store_lock(dir: &Path) -> Child {
    let lock = dir.join("db").join("LOCK");
    let mut child = Command::new("python3")
        .args([
            "-c",
            "import fcntl,sys,time\nf=open(sys.argv[1],'r+')\nfcntl.lockf(f,fcntl.LOCK_EX|fcntl.LOCK_NB)\nprint('locked',flush=True)\ntime.sleep(600)",
        ])
        .arg(&lock)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(line.trim(), "locked");
    child
}

#[test]
fn a_store_held_by_another_command_is_waited_for_then_named() {
    let n = Node::new(Mode::Direct);
    n.office();
    let mut holder = hold_store_lock(&n.dir);
    let before = n.ok(&["--json", "officer", "list"]);
    let started = Instant::now();
    let out = bin()
        .env("JILU_EDGE_DIR", &n.dir)
        .env("JILU_LOCK_WAIT_SECS", "1")
        .args(["officer", "add", "2002", "--name", "李四", "--unit", "二队"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success(), "a second writer must be refused");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "it gives up only after waiting"
    );
    assert!(err.contains("is in use by another Jilu process"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    // read-only commands work beside the holder, and nothing was added
    assert_eq!(n.ok(&["--json", "officer", "list"]), before);
    let status = n.ok(&["--json", "status"]);
    assert!(status.contains("\"node\":\"edge-t\""), "{status}");
    // a writer that starts while the holder still runs waits for it, then works
    let mut waiting = bin()
        .env("JILU_EDGE_DIR", &n.dir)
        .args(["officer", "add", "2003", "--name", "王五", "--unit", "二队"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert!(waiting.try_wait().unwrap().is_none(), "it waits");
    holder.kill().unwrap();
    holder.wait().unwrap();
    assert!(waiting.wait().unwrap().success());
    assert!(n.ok(&["officer", "list"]).contains("王五"));
}

/// The office's service starts while a one-shot command still holds the store:
/// it waits for it (however long), then takes over and serves.
#[test]
fn a_node_started_while_a_command_holds_the_store_waits_and_takes_over() {
    let mut n = Node::new(Mode::Direct);
    n.office();
    let mut holder = hold_store_lock(&n.dir);
    let log = std::fs::File::create(n.scratch.join("daemon.log")).unwrap();
    let mut daemon = bin()
        .env("JILU_EDGE_DIR", &n.dir)
        .arg("run")
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        daemon.try_wait().unwrap().is_none(),
        "the node must wait for the store, not exit: {}",
        std::fs::read_to_string(n.scratch.join("daemon.log")).unwrap()
    );
    assert!(!n.dir.join("control.sock").exists(), "not serving yet");
    holder.kill().unwrap();
    holder.wait().unwrap();
    wait_for_socket(&n.dir);
    n.daemon = Some(daemon);
    n.ok(&["officer", "add", "2002", "--name", "李四", "--unit", "二队"]);
    assert!(n.ok(&["officer", "list"]).contains("李四"));
    n.stop_daemon();
}

/// The same race with a real command: an ingest holds the store; `run` is started
/// 50 ms later, waits, and takes over once the ingest is acknowledged.
#[test]
fn a_node_started_during_an_ingest_takes_over_after_it() {
    let mut n = Node::new(Mode::Direct);
    n.office();
    let clock = now_rfc3339();
    n.ok(&checkout_args(&clock, "90"));
    let big = n.scratch.join("big.mp4");
    std::fs::write(
        &big,
        (0..96u32 << 20)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
            .collect::<Vec<u8>>(),
    )
    .unwrap();
    let ingest = bin()
        .env("JILU_EDGE_DIR", &n.dir)
        .args([
            "--json",
            "ingest",
            big.to_str().unwrap(),
            "--device",
            "cam-01",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let log = std::fs::File::create(n.scratch.join("daemon.log")).unwrap();
    n.daemon = Some(
        bin()
            .env("JILU_EDGE_DIR", &n.dir)
            .arg("run")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let out = ingest.wait_with_output().unwrap();
    assert!(out.status.success());
    let ack: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    wait_for_socket(&n.dir);
    assert!(
        n.daemon.as_mut().unwrap().try_wait().unwrap().is_none(),
        "the node is running"
    );
    let items = n.ok(&["--json", "items"]);
    assert!(items.contains(ack["hash"].as_str().unwrap()), "{items}");
    n.stop_daemon();
}

both_modes!(
    ctrl_c_cancels_an_ingest_cleanly,
    ctrl_c_cancels_a_direct_ingest,
    ctrl_c_cancels_an_ingest_in_the_running_node
);
/// Ctrl-C during an ingest: the file is discarded as a crash would be (nothing of
/// it is visible, no chunk is left), the log says so, and the CLI exits 1 with one
/// line. The signal is sent once the ingest is seen in progress (its pending
/// marker), so it always lands mid-file; a machine fast enough to finish first
/// gets a bigger file.
fn ctrl_c_cancels_an_ingest_cleanly(mode: Mode) {
    let mut n = Node::new(mode);
    n.office();
    let clock = now_rfc3339();
    n.ok(&checkout_args(&clock, "90"));
    let mut size = 256u32 << 20;
    loop {
        let big = n.scratch.join("big.mp4");
        std::fs::write(
            &big,
            (0..size)
                .map(|i| (i.wrapping_mul(2_654_435_761) >> 9) as u8)
                .collect::<Vec<u8>>(),
        )
        .unwrap();
        let audit_before = n.audit_len();
        let child = bin()
            .env("JILU_EDGE_DIR", &n.dir)
            .args(["ingest", big.to_str().unwrap(), "--device", "cam-01"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let started = Instant::now();
        let mut signalled = false;
        while started.elapsed() < Duration::from_secs(60) {
            let status: serde_json::Value =
                serde_json::from_str(n.ok(&["--json", "status"]).trim()).unwrap();
            if status["interrupted_ingests"].as_u64().unwrap() > 0 {
                assert!(Command::new("kill")
                    .args(["-INT", &child.id().to_string()])
                    .status()
                    .unwrap()
                    .success());
                signalled = true;
                break;
            }
            if status["items"].as_u64().unwrap() > 0 {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let out = child.wait_with_output().unwrap();
        let items = n.ok(&["--json", "items"]);
        if !signalled || (out.status.success() && !items.trim().is_empty()) {
            // it finished first: forget it and try a bigger file
            assert!(size < 2u32 << 30, "could not catch an ingest in progress");
            let hash = blake3::hash(&std::fs::read(&big).unwrap())
                .to_hex()
                .to_string();
            assert!(items.contains(&hash));
            size *= 2;
            n.stop_daemon();
            n = Node::new(mode);
            n.office();
            n.ok(&checkout_args(&clock, "90"));
            continue;
        }
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{err}");
        assert!(
            lines[0].starts_with("error: ") && lines[0].contains("cancelled"),
            "{err}"
        );
        assert!(
            items.trim().is_empty(),
            "nothing of the file is visible: {items}"
        );
        let status: serde_json::Value =
            serde_json::from_str(n.ok(&["--json", "status"]).trim()).unwrap();
        assert_eq!(
            status["interrupted_ingests"], 0,
            "no pending ingest is left"
        );
        let audit = n.ok(&["--json", "audit", "show"]);
        assert_eq!(
            audit.lines().count(),
            audit_before + 1,
            "one entry: the discarded ingest"
        );
        assert!(
            audit.lines().last().unwrap().contains("ingest_discarded"),
            "{audit}"
        );
        assert!(n.ok(&["audit", "verify"]).contains("audit log intact"));
        // no chunk of it is left in the store
        n.stop_daemon();
        assert!(
            footage_keys(&n.dir) == 0,
            "chunks of a cancelled ingest were left in the store"
        );
        return;
    }
}

/// Footage chunks left in the store (every footage column family scanned).
fn footage_keys(dir: &Path) -> usize {
    let node = edge_node::edge::Edge::open(dir, edge_node::store::Mode::ReadOnly).unwrap();
    let mut n = 0;
    for period in edge_node::store::periods(&node.store).unwrap() {
        let cf = node.store.cf(&format!("chunks-{period}")).unwrap();
        let mut it = node.store.db.raw_iterator_cf(&cf);
        it.seek_to_first();
        while it.valid() {
            n += 1;
            it.next();
        }
        it.status().unwrap();
    }
    n
}

/// What a command printed and its exit status, with what legitimately differs
/// between two nodes (times, hashes of entries that carry times, clock offsets
/// measured against the station's clock) replaced by placeholders.
fn normalised(out: &Output) -> (Option<i32>, String, String) {
    let subs = [
        (
            r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?",
            "<time>",
        ),
        (r"[0-9a-f]{32,64}", "<hex>"),
        (r"\b\d{12,}\b", "<millis>"),
        (r"(offset|clock|clock_offset_ms\W+)\s*[+-]?\d+", "$1 <ms>"),
        (r"oldest waiting [0-9dhms ]+", "oldest waiting <age>"),
    ];
    let norm = |b: &[u8]| {
        let mut t = String::from_utf8_lossy(b).into_owned();
        for (re, with) in subs {
            t = regex::Regex::new(re)
                .unwrap()
                .replace_all(&t, with)
                .into_owned();
        }
        t
    };
    (out.status.code(), norm(&out.stdout), norm(&out.stderr))
}

/// One office's session run on two fresh nodes, one with no node running and
/// one through `edge-node run`: every command prints the same and exits the same.
#[test]
fn every_command_prints_the_same_through_the_running_node() {
    let direct = Node::new(Mode::Direct);
    let mut daemon = Node::new(Mode::Daemon);
    let sample = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data/sample.mp4")
        .canonicalize()
        .unwrap();
    let clock = now_rfc3339();
    let script: Vec<Vec<String>> = {
        let mut v: Vec<Vec<&str>> = vec![
            vec![
                "device",
                "add",
                "cam-01",
                "--kind",
                "body-camera",
                "--serial",
                "SN1",
                "--unit",
                "一队",
            ],
            vec![
                "--json", "device", "add", "cam-02", "--kind", "camera", "--serial", "SN2",
                "--unit", "一队",
            ],
            vec!["device", "set-status", "cam-02", "repair"],
            vec!["device", "list"],
            vec!["--json", "device", "list"],
            vec!["officer", "add", "1001", "--name", "张三", "--unit", "一队"],
            vec!["officer", "list"],
            vec!["matter", "list"],
            vec!["--json", "matter", "list"],
            vec![
                "activity",
                "new",
                "--id",
                "A-1",
                "--matter",
                "1",
                "--place",
                "某企业",
                "--officer",
                "1001",
                "--arrival",
                "2026-11-20T09:00:00+08:00",
            ],
            vec![
                "activity",
                "notice",
                "A-1",
                "--at",
                "2026-11-20T09:01:00+08:00",
                "--by",
                "1001",
                "--words",
                "现在对执法过程进行全程音像记录",
            ],
            vec![
                "activity",
                "set",
                "A-1",
                "--departure",
                "2026-11-20T10:00:00+08:00",
            ],
            vec![
                "activity",
                "interruption",
                "A-1",
                "--reason",
                "battery",
                "--basis",
                "电量不足",
                "--from",
                "2026-11-20T09:30:00+08:00",
                "--to",
                "2026-11-20T09:40:00+08:00",
                "--by",
                "1001",
            ],
            vec!["activity", "list"],
            vec!["--json", "activity", "show", "A-1"],
            vec![
                "ingest",
                "SAMPLE",
                "--device",
                "cam-01",
                "--officer",
                "1001",
                "--activity",
                "A-1",
            ],
            vec![
                "--json",
                "ingest",
                "SAMPLE",
                "--device",
                "cam-01",
                "--officer",
                "1001",
            ],
            vec!["items"],
            vec!["--json", "items", "--unlinked"],
            vec!["verify"],
            vec!["--json", "verify"],
            vec!["audit", "verify"],
            vec!["audit", "show", "--subject", "device:"],
            vec!["ledger"],
            vec!["status"],
            vec!["docs"],
            vec!["checkin", "cam-01"],
            vec![
                "activity",
                "annotate",
                "A-1",
                "--kind",
                "evidence",
                "--text",
                "现场照片",
                "--item",
                "zzzz",
            ],
            vec![
                "ingest",
                "/nonexistent/file.mp4",
                "--device",
                "cam-01",
                "--officer",
                "1001",
            ],
            vec!["export", "abcdef12", "--out", "/tmp/never-written"],
            vec!["run"],
        ];
        let mut checkout = checkout_args(&clock, "90");
        checkout.insert(0, "--json");
        v.insert(7, checkout);
        v.into_iter()
            .map(|c| {
                c.into_iter()
                    .map(|a| {
                        if a == "SAMPLE" {
                            sample.to_str().unwrap().to_string()
                        } else {
                            a.to_string()
                        }
                    })
                    .collect()
            })
            .collect()
    };
    for args in &script {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        if args == ["run"] {
            // the one command whose answer must differ: a node already runs (and on
            // the other node, `run` would become one)
            let b = normalised(&daemon.run(&args));
            assert_eq!(b.0, Some(1), "{}", b.2);
            assert!(b.2.contains("already running"), "{}", b.2);
            continue;
        }
        let a = normalised(&direct.run(&args));
        let b = normalised(&daemon.run(&args));
        assert_eq!(a, b, "{args:?} differs through the running node");
    }
    // an export writes the same bytes, and the file belongs to whoever asked
    let hash = blake3::hash(&std::fs::read(&sample).unwrap())
        .to_hex()
        .to_string();
    for n in [&direct, &daemon] {
        let to = n.scratch.join("out.mp4");
        let a = normalised(&n.run(&["export", &hash[..10], "--out", to.to_str().unwrap()]));
        assert_eq!(a.0, Some(0), "{}", a.2);
        assert_eq!(std::fs::read(&to).unwrap(), std::fs::read(&sample).unwrap());
    }
    daemon.stop_daemon();
}

both_modes!(
    disk_full_stores_nothing_and_says_so,
    disk_full_direct,
    disk_full_in_the_running_node
);
/// Disk full: the store lives on a 24 MiB tmpfs and a 64 MiB file cannot fit.
/// Needs root (mount); skipped with a message otherwise.
fn disk_full_stores_nothing_and_says_so(mode: Mode) {
    let tmp = tempfile::tempdir().unwrap();
    let mnt = tmp.path().join("small");
    std::fs::create_dir_all(&mnt).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=24m", "tmpfs"])
        .arg(&mnt)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !mounted {
        eprintln!("SKIPPED disk_full_stores_nothing_and_says_so: cannot mount a tmpfs (not root?)");
        return;
    }
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
    let _guard = Unmount(mnt.clone());
    let mut n = Node {
        dir: mnt.join("edge"),
        scratch: tmp.path().to_path_buf(),
        _tmp: tempfile::tempdir().unwrap(),
        daemon: None,
    };
    n.ok(&["init", "--node", "edge-t", "--county", "410402"]);
    if mode == Mode::Daemon {
        n.start_daemon();
    }
    n.office();
    let small = n.scratch.join("small.bin");
    std::fs::write(&small, vec![7u8; 100_000]).unwrap();
    let big = n.scratch.join("big.bin");
    let data: Vec<u8> = (0..64u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&big, &data).unwrap();
    n.ok(&[
        "ingest",
        small.to_str().unwrap(),
        "--device",
        "cam-01",
        "--officer",
        "1001",
    ]);
    let out = n.run(&[
        "ingest",
        big.to_str().unwrap(),
        "--device",
        "cam-01",
        "--officer",
        "1001",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("is full"), "{err}");
    assert!(err.lines().next().unwrap().starts_with("error: "), "{err}");
    // the acknowledged item is intact, the big one is not visible
    let items = n.ok(&["--json", "items"]);
    assert_eq!(items.lines().count(), 1, "{items}");
    assert!(items.contains(
        &blake3::hash(&std::fs::read(&small).unwrap())
            .to_hex()
            .to_string()
    ));
    assert!(n.ok(&["verify"]).contains("1 intact, 0 corrupt"));
    n.stop_daemon();
}
