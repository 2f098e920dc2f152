//! Shared parts of the ingest benchmarks: generated sources, page-cache handling,
//! child processes reaped with their resource usage, and a fresh edge node driven
//! through the real `edge-node` binary.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;

pub const MIB: f64 = (1u64 << 20) as f64;
pub const GIB: f64 = (1u64 << 30) as f64;
pub const OFFICER: &str = "1001";

/// `1G`, `512M`, `64K`, `4096`.
pub fn parse_size(text: &str) -> Result<u64> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| anyhow!("'{text}' is not a size (e.g. 1G, 256M, 4096)"))?;
    let mult: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => bail!("'{text}': unknown unit '{unit}' (use K, M or G)"),
    };
    n.checked_mul(mult)
        .filter(|&v| v > 0)
        .ok_or_else(|| anyhow!("'{text}' is not a usable size"))
}

/// Writes `len` pseudo-random bytes (xorshift, seeded) to `path`, synced, and
/// returns their BLAKE3 hash.
pub fn random_file(path: &Path, len: u64, seed: u64) -> Result<String> {
    let mut f = File::create(path).with_context(|| format!("create {}", path.display()))?;
    let mut hasher = blake3::Hasher::new();
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut buf = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        for word in buf.chunks_exact_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            word.copy_from_slice(&x.to_le_bytes());
        }
        let n = left.min(buf.len() as u64) as usize;
        hasher.update(&buf[..n]);
        f.write_all(&buf[..n])
            .with_context(|| format!("write {}", path.display()))?;
        left -= n as u64;
    }
    f.sync_all()
        .with_context(|| format!("sync {}", path.display()))?;
    Ok(hasher.finalize().to_hex().to_string())
}

/// Page-cache handling between timed steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheMode {
    /// page cache dropped before each step: the source is read from disk
    Cold,
    /// `/proc/sys/vm/drop_caches` is not writable: the source is cached
    Warm,
}

impl CacheMode {
    pub fn detect() -> CacheMode {
        let writable = std::fs::OpenOptions::new()
            .write(true)
            .open("/proc/sys/vm/drop_caches")
            .is_ok();
        if writable {
            CacheMode::Cold
        } else {
            CacheMode::Warm
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            CacheMode::Cold => "cold",
            CacheMode::Warm => "warm",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            CacheMode::Cold => "cold (synced, page cache dropped before each timed step)",
            CacheMode::Warm => {
                "warm (synced before each timed step; /proc/sys/vm/drop_caches not writable, so the source is read from the page cache)"
            }
        }
    }

    /// Leaves nothing dirty behind (and, cold, nothing cached) for the next step.
    pub fn settle(self) -> Result<()> {
        run_ok(Command::new("sync"))?;
        if self == CacheMode::Cold {
            std::fs::write("/proc/sys/vm/drop_caches", "3\n")
                .context("cannot drop the page cache")?;
        }
        Ok(())
    }
}

pub fn run_ok(mut cmd: Command) -> Result<()> {
    let out = cmd
        .output()
        .with_context(|| format!("cannot run {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// CPU time a child used (`ru_utime`, `ru_stime`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Cpu {
    pub user_s: f64,
    pub sys_s: f64,
}

impl Cpu {
    pub fn total(self) -> f64 {
        self.user_s + self.sys_s
    }

    /// CPU-seconds per GiB of `bytes`.
    pub fn per_gib(self, bytes: u64) -> f64 {
        self.total() / (bytes as f64 / GIB)
    }
}

impl std::ops::Add for Cpu {
    type Output = Cpu;
    fn add(self, o: Cpu) -> Cpu {
        Cpu {
            user_s: self.user_s + o.user_s,
            sys_s: self.sys_s + o.sys_s,
        }
    }
}

/// How a child ended, its peak resident set and the CPU it used.
#[derive(Debug)]
pub struct Reaped {
    pub exit_code: Option<i32>,
    pub max_rss_kib: u64,
    pub cpu: Cpu,
}

/// Waits for child `pid` and returns its exit status, peak RSS (`ru_maxrss`) and
/// CPU time. `std::process::Child::wait` does not return the child's resource
/// usage, so this one call reaps the child with `wait4` instead.
#[allow(unsafe_code)]
pub fn wait4(pid: u32) -> Result<Reaped> {
    let pid = libc::pid_t::try_from(pid).context("child pid out of range")?;
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero `rusage` is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `pid` is our own unreaped child; `status` and `usage` are valid,
        // exclusive pointers for the duration of the call.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r == pid {
            break;
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            bail!("wait4 on child {pid}: {err}");
        }
    }
    let exit_code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Ok(Reaped {
        exit_code,
        // Linux reports ru_maxrss in KiB
        max_rss_kib: u64::try_from(usage.ru_maxrss).unwrap_or(0),
        cpu: Cpu {
            user_s: secs(usage.ru_utime),
            sys_s: secs(usage.ru_stime),
        },
    })
}

/// Runs `cmd` to completion, reaped with [`wait4`]; fails unless it exits 0.
pub fn reap(mut cmd: Command) -> Result<Reaped> {
    let child = cmd
        .stdin(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot run {cmd:?}"))?;
    let r = wait4(child.id())?;
    if r.exit_code != Some(0) {
        bail!("{cmd:?} failed ({:?})", r.exit_code);
    }
    Ok(r)
}

/// `cp SRC DST` for every pair at once, then one `sync`, timed from the first
/// spawn to the end of the sync; the CPU is that of every `cp` and the `sync`.
/// (The kernel's own write-back threads are charged to neither side.)
pub fn cp_sync(pairs: &[(PathBuf, PathBuf)]) -> Result<(Duration, Cpu)> {
    let t0 = Instant::now();
    let children = pairs
        .iter()
        .map(|(src, dst)| {
            Command::new("cp")
                .arg(src)
                .arg(dst)
                .stdin(Stdio::null())
                .spawn()
                .context("cannot run cp")
        })
        .collect::<Result<Vec<_>>>()?;
    let mut cpu = Cpu::default();
    for c in children {
        let r = wait4(c.id())?;
        if r.exit_code != Some(0) {
            bail!("cp failed ({:?})", r.exit_code);
        }
        cpu = cpu + r.cpu;
    }
    cpu = cpu + reap(Command::new("sync"))?.cpu;
    Ok((t0.elapsed(), cpu))
}

/// One node directory and the real `edge-node` binary to drive it.
pub struct Node {
    pub bin: PathBuf,
    pub dir: PathBuf,
}

impl Node {
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(&self.bin);
        c.arg("--data-dir")
            .arg(&self.dir)
            .env_remove("JILU_ACTOR")
            .env("JILU_LOG", "error");
        c
    }

    /// A fresh node with officer [`OFFICER`] and body cameras `cameras`, each
    /// checked out to the officer (untimed set-up).
    pub fn fresh(bin: &Path, dir: PathBuf, cameras: &[String]) -> Result<Node> {
        if dir.exists() {
            std::fs::remove_dir_all(&dir)
                .with_context(|| format!("cannot remove {}", dir.display()))?;
        }
        let n = Node {
            bin: bin.to_path_buf(),
            dir,
        };
        let mut c = n.cmd();
        c.args(["init", "--node", "edge-bench", "--county", "410402"]);
        run_ok(c)?;
        let mut c = n.cmd();
        c.args([
            "officer", "add", OFFICER, "--name", "bench", "--unit", "bench",
        ]);
        run_ok(c)?;
        for id in cameras {
            // read per camera: the pre-use check refuses a clock 5 s off
            let clock = crate::rfc3339_in(0);
            let mut c = n.cmd();
            c.args(["device", "add", id, "--kind", "body-camera"])
                .args(["--serial", &format!("SN-{id}"), "--unit", "bench"]);
            run_ok(c)?;
            let mut c = n.cmd();
            c.args(["checkout", id, "--officer", OFFICER, "--purpose", "bench"])
                .args(["--battery", "90", "--free-mb", "9000", "--works", "yes"])
                .args(["--device-clock", &clock]);
            run_ok(c)?;
        }
        Ok(n)
    }

    /// Runs `edge-node --json ARGS…` with stdout and stderr to files beside
    /// `log`; returns the elapsed time, how it was reaped and the JSON lines.
    pub fn timed(&self, args: &[&str], log: &Path) -> Result<(Duration, Reaped, Vec<Value>)> {
        let out_path = log.with_extension("out");
        let err_path = log.with_extension("err");
        let mut c = self.cmd();
        c.arg("--json")
            .args(args)
            .stdin(Stdio::null())
            .stdout(File::create(&out_path)?)
            .stderr(File::create(&err_path)?);
        let t0 = Instant::now();
        let child = c
            .spawn()
            .with_context(|| format!("cannot run {}", self.bin.display()))?;
        let reaped = wait4(child.id())?;
        let elapsed = t0.elapsed();
        if reaped.exit_code != Some(0) {
            bail!(
                "edge-node {args:?} failed ({:?}): {}",
                reaped.exit_code,
                std::fs::read_to_string(&err_path).unwrap_or_default()
            );
        }
        let lines = std::fs::read_to_string(&out_path)?
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(serde_json::from_str)
            .collect::<Result<Vec<Value>, _>>()
            .context("edge-node printed something that is not JSON")?;
        Ok((elapsed, reaped, lines))
    }
}

pub fn mibs(bytes: u64, secs: f64) -> f64 {
    bytes as f64 / MIB / secs
}

pub fn pass(ok: bool) -> &'static str {
    if ok {
        "PASS"
    } else {
        "MISS"
    }
}
