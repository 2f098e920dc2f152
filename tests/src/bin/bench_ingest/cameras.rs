//! `--cameras N`: a docking station. N files, one per camera folder, ingested at
//! once by `edge-node dock watch --once --cameras N` (one real process), beside N
//! parallel `cp` and one `sync` of the same files to the same disk.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use jilu_tests::bench::{cp_sync, mibs, random_file, CacheMode, Cpu, Node, MIB};
use serde_json::{json, Value};

/// One measured run of both steps.
#[derive(Debug)]
pub struct CameraRun {
    pub order: &'static str,
    pub cp_s: f64,
    pub cp_cpu: Cpu,
    pub ingest_s: f64,
    pub ingest_cpu: Cpu,
    pub rss_kib: u64,
}

/// What the camera benchmark measured.
#[derive(Debug)]
pub struct Cameras {
    pub cameras: usize,
    pub size: u64,
    pub runs: Vec<CameraRun>,
}

impl Cameras {
    pub fn total_bytes(&self) -> u64 {
        self.size * self.cameras as u64
    }

    fn sum(&self, f: impl Fn(&CameraRun) -> f64) -> f64 {
        self.runs.iter().map(f).sum()
    }

    pub fn cp_mibs(&self) -> f64 {
        mibs(
            self.total_bytes() * self.runs.len() as u64,
            self.sum(|r| r.cp_s),
        )
    }

    pub fn ingest_mibs(&self) -> f64 {
        mibs(
            self.total_bytes() * self.runs.len() as u64,
            self.sum(|r| r.ingest_s),
        )
    }

    pub fn ratio(&self) -> f64 {
        self.ingest_mibs() / self.cp_mibs()
    }

    pub fn rss_mib(&self) -> f64 {
        self.runs.iter().map(|r| r.rss_kib).max().unwrap_or(0) as f64 / 1024.0
    }

    fn cpu_per_gib(&self, f: impl Fn(&CameraRun) -> Cpu) -> f64 {
        let cpu = self.runs.iter().map(f).fold(Cpu::default(), |a, b| a + b);
        cpu.per_gib(self.total_bytes() * self.runs.len() as u64)
    }

    pub fn ingest_cpu_per_gib(&self) -> f64 {
        self.cpu_per_gib(|r| r.ingest_cpu)
    }

    pub fn cp_cpu_per_gib(&self) -> f64 {
        self.cpu_per_gib(|r| r.cp_cpu)
    }

    pub fn to_json(&self) -> Value {
        json!({
            "cameras": self.cameras,
            "file_bytes": self.size,
            "runs": self.runs.iter().map(|r| json!({
                "order": r.order,
                "cp_sync_s": r.cp_s,
                "ingest_s": r.ingest_s,
                "cp_sync_mib_s": mibs(self.total_bytes(), r.cp_s),
                "ingest_mib_s": mibs(self.total_bytes(), r.ingest_s),
                "ratio": r.cp_s / r.ingest_s,
                "ingest_peak_rss_mib": r.rss_kib as f64 / 1024.0,
                "ingest_cpu_user_s": r.ingest_cpu.user_s,
                "ingest_cpu_sys_s": r.ingest_cpu.sys_s,
                "cp_sync_cpu_s": r.cp_cpu.total(),
            })).collect::<Vec<_>>(),
            "cp_sync_mib_s": self.cp_mibs(),
            "ingest_mib_s": self.ingest_mibs(),
            "ratio": self.ratio(),
            "ingest_peak_rss_mib": self.rss_mib(),
            "ingest_cpu_s_per_gib": self.ingest_cpu_per_gib(),
            "cp_sync_cpu_s_per_gib": self.cp_cpu_per_gib(),
        })
    }
}

/// Writes the camera folders, then runs both steps `runs` times, alternating
/// which goes first.
pub fn measure(
    cameras: usize,
    size: u64,
    runs: u32,
    work: &Path,
    bin: &Path,
    mode: CacheMode,
    quiet: bool,
) -> Result<Cameras> {
    let dock = work.join("dock");
    let copies = work.join("copies");
    let ids: Vec<String> = (1..=cameras).map(|i| format!("cam-{i:02}")).collect();
    if !quiet {
        eprintln!(
            "writing {cameras} × {:.0} MiB of random bytes to {} …",
            size as f64 / MIB,
            dock.display()
        );
    }
    let mut sources = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let dir = dock.join(id).join("DCIM");
        std::fs::create_dir_all(&dir)?;
        let path = dir.join("V0001.MP4");
        let hash = random_file(&path, size, 0xca3 + i as u64)?;
        sources.push((path, hash));
    }
    std::fs::create_dir_all(&copies)?;
    let pairs: Vec<(PathBuf, PathBuf)> = sources
        .iter()
        .enumerate()
        .map(|(i, (p, _))| (p.clone(), copies.join(format!("copy-{i}.bin"))))
        .collect();
    let mut out = Cameras {
        cameras,
        size,
        runs: Vec::new(),
    };
    for i in 0..runs {
        let cp_first = i % 2 == 0;
        let mut cp = (0.0, Cpu::default());
        let mut ingest = (0.0, Cpu::default(), 0u64);
        for step in 0..2 {
            if (step == 0) == cp_first {
                mode.settle()?;
                let (t, cpu) = cp_sync(&pairs)?;
                cp = (t.as_secs_f64(), cpu);
                for (_, dst) in &pairs {
                    std::fs::remove_file(dst).context("remove a copy")?;
                }
            } else {
                let node = Node::fresh(bin, work.join("node"), &ids)?;
                mode.settle()?;
                let cams = cameras.to_string();
                let dock_arg = dock
                    .to_str()
                    .ok_or_else(|| anyhow!("dock path not UTF-8"))?;
                let (t, reaped, events) = node.timed(
                    &["dock", "watch", dock_arg, "--once", "--cameras", &cams],
                    &work.join("dock-watch"),
                )?;
                check_acks(&events, &sources)?;
                ingest = (t.as_secs_f64(), reaped.cpu, reaped.max_rss_kib);
                std::fs::remove_dir_all(&node.dir).context("remove the node")?;
            }
        }
        let run = CameraRun {
            order: if cp_first { "cp, ingest" } else { "ingest, cp" },
            cp_s: cp.0,
            cp_cpu: cp.1,
            ingest_s: ingest.0,
            ingest_cpu: ingest.1,
            rss_kib: ingest.2,
        };
        if !quiet {
            eprintln!(
                "cameras run {}: {cameras}× cp+sync {:.2} s, dock ingest {:.2} s, peak RSS {:.0} MiB, ingest CPU {:.2} s",
                i + 1,
                run.cp_s,
                run.ingest_s,
                run.rss_kib as f64 / 1024.0,
                run.ingest_cpu.total()
            );
        }
        out.runs.push(run);
    }
    std::fs::remove_dir_all(&dock).context("remove the camera folders")?;
    Ok(out)
}

/// Every camera's file acknowledged once, with its BLAKE3.
fn check_acks(events: &[Value], sources: &[(PathBuf, String)]) -> Result<()> {
    for (path, hash) in sources {
        let acked: Vec<&Value> = events
            .iter()
            .filter(|v| v["event"] == "ingested" && v["path"].as_str() == path.to_str())
            .collect();
        match acked.as_slice() {
            [one] if one["hash"].as_str() == Some(hash.as_str()) => {}
            [one] => bail!(
                "{} acknowledged as {}, its BLAKE3 is {hash}",
                path.display(),
                one["hash"]
            ),
            _ => bail!(
                "{} acknowledged {} times: {events:?}",
                path.display(),
                acked.len()
            ),
        }
    }
    Ok(())
}
