#![allow(clippy::unwrap_used)]
//! The `edge-node` command line against bad input: every case must print one clear
//! line naming what was wrong and change nothing (no audit entry, no item, no
//! ledger line). Also builds the binary the workspace's end-to-end tests drive.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Node {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    scratch: PathBuf,
}

impl Node {
    fn new() -> Node {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("edge");
        let scratch = tmp.path().join("scratch");
        std::fs::create_dir_all(&scratch).unwrap();
        let n = Node {
            _tmp: tmp,
            dir,
            scratch,
        };
        n.ok(&["init", "--node", "edge-t", "--county", "410402"]);
        n
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_edge-node"))
            .env("JILU_EDGE_DIR", &self.dir)
            .env("JILU_LOG", "error")
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

#[test]
fn bad_input_gets_one_line_and_changes_nothing() {
    let n = Node::new();
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
    let n = Node::new();
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
    let n = Node::new();
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

#[test]
fn a_locked_store_is_named_and_reads_still_work() {
    let n = Node::new();
    n.office();
    let dock = n.scratch.join("dock");
    std::fs::create_dir_all(&dock).unwrap();
    let mut watcher = Command::new(env!("CARGO_BIN_EXE_edge-node"))
        .env("JILU_EDGE_DIR", &n.dir)
        .args(["dock", "watch", dock.to_str().unwrap(), "--interval", "1"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // its first line is printed once it holds the store
    let mut first = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(watcher.stdout.take().unwrap()),
        &mut first,
    )
    .unwrap();
    assert!(first.starts_with("watching "), "{first}");
    let before = n.ok(&["--json", "officer", "list"]);
    let out = n.run(&["officer", "add", "2002", "--name", "李四", "--unit", "二队"]);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success(), "a second writer must be refused");
    assert!(err.contains("is in use by another Jilu process"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    // read-only commands still work beside the watcher, and nothing was added
    assert_eq!(n.ok(&["--json", "officer", "list"]), before);
    let status = n.ok(&["--json", "status"]);
    assert!(status.contains("\"node\":\"edge-t\""), "{status}");
    watcher.kill().unwrap();
    watcher.wait().unwrap();
}

/// Disk full: the store lives on a 24 MiB tmpfs and a 64 MiB file cannot fit.
/// Needs root (mount); skipped with a message otherwise.
#[test]
fn disk_full_stores_nothing_and_says_so() {
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
    let n = Node {
        dir: mnt.join("edge"),
        scratch: tmp.path().to_path_buf(),
        _tmp: tempfile::tempdir().unwrap(),
    };
    n.ok(&["init", "--node", "edge-t", "--county", "410402"]);
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
}
