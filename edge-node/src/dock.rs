//! Dock watch: what a collection workstation runs. Each docked device shows up as a
//! folder named after its device id (`DIR/<device>/...`); new files are ingested as
//! they settle, and with `--wipe` a file is deleted from the device only after its
//! stored copy has been read back and re-verified and the file itself re-hashed.
//!
//! A docking station holds many cameras at once. Each pass hands the cameras that
//! have something new to up to [`DockOptions::cameras`] workers; a worker takes one
//! camera at a time and ingests its files in name order, one after the other,
//! through an ingest lane of its own (worker N writes lane N, see
//! [`crate::store`]), so concurrent items never share blob files. What each
//! camera has done and has left is kept in a [`progress::DockProgress`].
//!
//! A camera unplugged mid-copy makes its current ingest stop
//! ([`crate::ingest::IngestAbort`]): nothing of the file is kept, the dock does not
//! record it as stored and nothing is wiped, so the next pass that sees the file
//! again ingests it from the start.

pub mod progress;

use jilu_common::subject::Actor;
use std::collections::{HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};
use jilu_common::audit::Action;
use jilu_common::time::Millis;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::edge::{now_ms, parse_hash, Edge};
use crate::ingest::{Ack, IngestControl, Resolved, Source};
use crate::store;
use progress::{DockProgress, SharedProgress};

/// How often a running dock logs its progress while it ingests.
const LOG_EVERY: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub struct DockOptions {
    pub dir: PathBuf,
    pub wipe: bool,
    /// one pass, then return (for scripts and tests)
    pub once: bool,
    pub interval: Duration,
    /// a file must be unchanged this long before it is ingested (still being copied?)
    pub settle: Duration,
    /// cameras ingested at once (0: one per CPU core)
    pub cameras: usize,
}

/// What dock watch remembers of a source file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    len: u64,
    mtime: Millis,
    hash: String,
}

impl jilu_common::record::Record for Seen {
    const NAME: &'static str = "dock file";
    const VERSION: u16 = 1;
}

/// One thing dock watch did, as printed (`--json`: one object per line).
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum DockEvent {
    Ingested {
        device: String,
        path: PathBuf,
        hash: String,
        size: u64,
        duplicate: bool,
    },
    Wiped {
        device: String,
        path: PathBuf,
        hash: String,
    },
    Skipped {
        device: String,
        path: Option<PathBuf>,
        why: String,
    },
}

impl Edge {
    /// Runs dock watch; `on_event` is called for everything it does. Returns after one
    /// pass with `once`, else runs until `stop` returns true, which also cancels the
    /// ingests in progress (they are discarded and redone on the next run).
    pub fn dock_watch(
        &self,
        actor: &Actor,
        opts: &DockOptions,
        on_event: &mut dyn FnMut(&DockEvent),
        stop: &dyn Fn() -> bool,
    ) -> Result<()> {
        self.dock_watch_with(actor, opts, &DockProgress::shared(), on_event, stop)
    }

    /// [`Edge::dock_watch`] keeping its progress in `progress`, which the caller
    /// can snapshot at any time (for `status`).
    pub fn dock_watch_with(
        &self,
        actor: &Actor,
        opts: &DockOptions,
        progress: &SharedProgress,
        on_event: &mut dyn FnMut(&DockEvent),
        stop: &dyn Fn() -> bool,
    ) -> Result<()> {
        if !opts.dir.is_dir() {
            return Err(anyhow!(
                "dock folder {} does not exist or is not a folder",
                opts.dir.display()
            ));
        }
        let mut warned = HashSet::new();
        loop {
            self.dock_pass(actor, opts, progress, on_event, &mut warned, stop)?;
            if opts.once || stop() {
                return Ok(());
            }
            let mut slept = Duration::ZERO;
            while slept < opts.interval {
                if stop() {
                    return Ok(());
                }
                let step = Duration::from_millis(200).min(opts.interval - slept);
                std::thread::sleep(step);
                slept += step;
            }
        }
    }

    /// One pass: every docked camera with something to do, up to `opts.cameras`
    /// at once. Events are handed to `on_event` on this thread, in the order the
    /// workers report them.
    fn dock_pass(
        &self,
        actor: &Actor,
        opts: &DockOptions,
        progress: &SharedProgress,
        on_event: &mut dyn FnMut(&DockEvent),
        warned: &mut HashSet<String>,
        stop: &dyn Fn() -> bool,
    ) -> Result<()> {
        let jobs = self.dock_cameras(opts, on_event, warned)?;
        if jobs.is_empty() {
            return Ok(());
        }
        let lanes = crate::config::resolve_cameras(opts.cameras).min(jobs.len());
        let queue = Mutex::new(VecDeque::from(jobs));
        let cancel = AtomicBool::new(false);
        let failed: Mutex<Option<anyhow::Error>> = Mutex::new(None);
        let (tx, rx) = mpsc::channel::<DockEvent>();
        std::thread::scope(|scope| {
            for lane in 0..lanes {
                let worker = Worker {
                    actor,
                    opts,
                    lane: lane as u32,
                    lanes,
                    progress,
                    events: tx.clone(),
                    cancel: &cancel,
                };
                let (queue, failed) = (&queue, &failed);
                scope.spawn(move || loop {
                    if worker.cancel.load(Ordering::Relaxed) {
                        return;
                    }
                    let job = queue.lock().ok().and_then(|mut q| q.pop_front());
                    let Some(job) = job else { return };
                    if let Err(e) = self.dock_camera(&worker, &job) {
                        // a full disk: finish what is in flight, start nothing new
                        worker.cancel.store(true, Ordering::Relaxed);
                        if let Ok(mut f) = failed.lock() {
                            f.get_or_insert(e);
                        }
                        return;
                    }
                });
            }
            drop(tx);
            let mut logged = Instant::now();
            loop {
                match rx.recv_timeout(Duration::from_millis(200)) {
                    Ok(ev) => on_event(&ev),
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                }
                if stop() {
                    cancel.store(true, Ordering::Relaxed);
                }
                if logged.elapsed() >= LOG_EVERY {
                    log_progress(progress);
                    logged = Instant::now();
                }
            }
        });
        log_progress(progress);
        match failed.into_inner() {
            Ok(Some(e)) => Err(e),
            _ => Ok(()),
        }
    }

    /// The docked cameras this pass looks at: registered devices whose folder has
    /// files. An unknown device is reported once per run.
    fn dock_cameras(
        &self,
        opts: &DockOptions,
        on_event: &mut dyn FnMut(&DockEvent),
        warned: &mut HashSet<String>,
    ) -> Result<Vec<CameraJob>> {
        let mut devices: Vec<PathBuf> = std::fs::read_dir(&opts.dir)
            .map_err(|e| anyhow!("cannot read dock folder {}: {e}", opts.dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir())
            .collect();
        devices.sort();
        let mut jobs = Vec::new();
        for folder in devices {
            let device = folder
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let ctx = match self.resolve_source(&Source {
                device: device.clone(),
                officer: None,
                activity: None,
            }) {
                Ok(ctx) => ctx,
                Err(e) => {
                    if warned.insert(device.clone()) {
                        on_event(&DockEvent::Skipped {
                            device: device.clone(),
                            path: None,
                            why: format!("{e:#}"),
                        });
                    }
                    continue;
                }
            };
            let files = match crate::ingest::plan(std::slice::from_ref(&folder)) {
                Ok(f) => f,
                Err(_) => continue, // an empty folder: nothing docked yet
            };
            jobs.push(CameraJob { device, ctx, files });
        }
        Ok(jobs)
    }

    /// One camera's files, in order, on a worker's lane.
    fn dock_camera(&self, w: &Worker<'_>, job: &CameraJob) -> Result<()> {
        let todo: Vec<(&PathBuf, std::fs::Metadata)> = job
            .files
            .iter()
            .filter_map(|p| std::fs::metadata(p).ok().map(|m| (p, m)))
            .filter(|(p, m)| self.needs_ingest(p, m).unwrap_or(true))
            .collect();
        if let Ok(mut p) = w.progress.lock() {
            p.found(
                &job.device,
                todo.len() as u64,
                todo.iter().map(|(_, m)| m.len()).sum(),
            );
        }
        for path in &job.files {
            if w.cancel.load(Ordering::Relaxed) {
                return Ok(());
            }
            self.dock_file(w, &job.device, &job.ctx, path)?;
        }
        Ok(())
    }

    /// True when dock watch has no record of storing `path` as it is now.
    fn needs_ingest(&self, path: &Path, meta: &std::fs::Metadata) -> Result<bool> {
        Ok(self
            .seen(path)?
            .is_none_or(|s| s.len != meta.len() || s.mtime != mtime_of(meta)))
    }

    fn seen(&self, path: &Path) -> Result<Option<Seen>> {
        let key = path.to_string_lossy().into_owned().into_bytes();
        // an unreadable record is an error, not "never seen": taken as unseen, the
        // file would be ingested again and given a second custody event
        Ok(self.store.get_record(store::DOCK, &key)?)
    }

    fn dock_file(&self, w: &Worker<'_>, device: &str, ctx: &Resolved, path: &Path) -> Result<()> {
        let Ok(meta) = std::fs::metadata(path) else {
            return Ok(());
        }; // vanished: the device was undocked
        let mtime = mtime_of(&meta);
        let key = path.to_string_lossy().into_owned().into_bytes();
        let hash = match self.seen(path)? {
            Some(s) if s.len == meta.len() && s.mtime == mtime => s.hash,
            _ => {
                if !w.opts.once && now_ms() - mtime < w.opts.settle.as_millis() as Millis {
                    return Ok(()); // still being written
                }
                let Some(ack) = self.dock_ingest(w, device, ctx, path, meta.len())? else {
                    return Ok(());
                };
                let mut tx = self.begin();
                let record = Seen {
                    len: meta.len(),
                    mtime,
                    hash: ack.hash.clone(),
                };
                tx.put_record(store::DOCK, &key, &record)?;
                tx.commit()?;
                w.emit(DockEvent::Ingested {
                    device: device.to_string(),
                    path: path.to_path_buf(),
                    hash: ack.hash.clone(),
                    size: ack.size,
                    duplicate: ack.duplicate,
                });
                ack.hash
            }
        };
        if w.opts.wipe {
            match self.wipe_source(w.actor, device, path, &hash) {
                Ok(()) => w.emit(DockEvent::Wiped {
                    device: device.to_string(),
                    path: path.to_path_buf(),
                    hash,
                }),
                Err(e) => w.emit(DockEvent::Skipped {
                    device: device.to_string(),
                    path: Some(path.to_path_buf()),
                    why: format!("not wiped: {e:#}"),
                }),
            }
        }
        Ok(())
    }

    /// Ingests one docked file on the worker's lane, keeping its progress. `None`
    /// when it was not stored (reported as skipped, retried by a later pass); an
    /// error only for a full disk, which stops the dock.
    fn dock_ingest(
        &self,
        w: &Worker<'_>,
        device: &str,
        ctx: &Resolved,
        path: &Path,
        size: u64,
    ) -> Result<Option<Ack>> {
        let shown = path.display().to_string();
        let active = w.progress.lock().map_or(0, |mut p| {
            p.start(device, &shown, size, w.lane);
            p.snapshot().active()
        });
        tracing::info!(device, path = %shown, size, lane = w.lane, active, "camera ingest started");
        let mut on_chunk = |done: u64| {
            if let Ok(mut p) = w.progress.lock() {
                p.advance(device, done);
            }
        };
        let cancelled = || w.cancel.load(Ordering::Relaxed);
        let result = self.ingest_file_with(
            w.actor,
            path,
            ctx,
            IngestControl {
                progress: &mut on_chunk,
                cancel: &cancelled,
                lanes: w.lanes,
                watch: crate::ingest::Watch::Path,
            },
        );
        if let Ok(mut p) = w.progress.lock() {
            p.finish(device, result.is_ok());
        }
        match result {
            Ok(ack) => Ok(Some(ack)),
            Err(e) => {
                if matches!(
                    e.downcast_ref::<store::StoreError>(),
                    Some(store::StoreError::DiskFull(_))
                ) {
                    return Err(e);
                }
                tracing::warn!(device, path = %shown, "not stored: {e:#}");
                w.emit(DockEvent::Skipped {
                    device: device.to_string(),
                    path: Some(path.to_path_buf()),
                    why: format!("{e:#}"),
                });
                Ok(None)
            }
        }
    }

    /// Deletes `path` from the device only if the stored item re-verifies from disk
    /// and the file still hashes to the same root.
    fn wipe_source(&self, actor: &Actor, device: &str, path: &Path, hash: &str) -> Result<()> {
        let key = parse_hash(hash)?;
        let rec = self
            .item(&key)?
            .ok_or_else(|| anyhow!("item {hash} is not in the store"))?;
        self.verify_item(&rec)?;
        let mut hasher = blake3::Hasher::new();
        let mut file = std::fs::File::open(path)
            .map_err(|e| anyhow!("cannot re-read {}: {e}", path.display()))?;
        std::io::copy(&mut file, &mut hasher)
            .map_err(|e| anyhow!("cannot re-read {}: {e}", path.display()))?;
        if hasher.finalize().as_bytes() != &key {
            return Err(anyhow!("{} changed since it was ingested", path.display()));
        }
        // the trace first: a crash between the two leaves a logged wipe of a file that
        // is still there (harmless), never a deletion nobody recorded
        let mut tx = self.begin();
        tx.delete(store::DOCK, path.to_string_lossy().as_bytes())?;
        tx.audit(
            actor,
            Action::SourceWiped,
            format!("item:{hash}"),
            json!({"device": device, "path": path.display().to_string()}),
            &[key],
        )?;
        tx.commit()?;
        std::fs::remove_file(path)
            .map_err(|e| anyhow!("cannot delete {} from the device: {e}", path.display()))
    }
}

/// A docked camera with files to look at in this pass.
struct CameraJob {
    device: String,
    ctx: Resolved,
    files: Vec<PathBuf>,
}

/// What one dock worker needs: its lane and the pass's shared state.
struct Worker<'a> {
    actor: &'a Actor,
    opts: &'a DockOptions,
    lane: u32,
    lanes: usize,
    progress: &'a SharedProgress,
    events: mpsc::Sender<DockEvent>,
    cancel: &'a AtomicBool,
}

impl Worker<'_> {
    fn emit(&self, ev: DockEvent) {
        // the pass forwards events until every worker is done
        let _ = self.events.send(ev);
    }
}

fn mtime_of(meta: &std::fs::Metadata) -> Millis {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_millis() as Millis)
        .unwrap_or(0)
}

fn log_progress(progress: &SharedProgress) {
    if let Ok(p) = progress.lock() {
        let snap = p.snapshot();
        if !snap.cameras.is_empty() {
            tracing::info!(
                active = snap.active(),
                "dock progress\n{}",
                progress::render(&snap)
            );
        }
    }
}
