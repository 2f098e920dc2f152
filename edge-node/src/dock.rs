//! Dock watch: what a collection workstation runs. Each docked device shows up as a
//! folder named after its device id (`DIR/<device>/...`); new files are ingested as
//! they settle, and with `--wipe` a file is deleted from the device only after its
//! stored copy has been read back and re-verified and the file itself re-hashed.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, Result};
use jilu_common::audit::Action;
use jilu_common::time::Millis;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::edge::{now_ms, parse_hash, Edge};
use crate::ingest::{Ack, Source};
use crate::store;

#[derive(Debug, Clone)]
pub struct DockOptions {
    pub dir: PathBuf,
    pub wipe: bool,
    /// one pass, then return (for scripts and tests)
    pub once: bool,
    pub interval: Duration,
    /// a file must be unchanged this long before it is ingested (still being copied?)
    pub settle: Duration,
}

/// What dock watch remembers of a source file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Seen {
    len: u64,
    mtime: Millis,
    hash: String,
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
    /// pass with `once`, else runs until `stop` returns true.
    pub fn dock_watch(
        &self,
        actor: &str,
        opts: &DockOptions,
        on_event: &mut dyn FnMut(&DockEvent),
        stop: &dyn Fn() -> bool,
    ) -> Result<()> {
        if !opts.dir.is_dir() {
            return Err(anyhow!(
                "dock folder {} does not exist or is not a folder",
                opts.dir.display()
            ));
        }
        let mut warned = std::collections::HashSet::new();
        loop {
            self.dock_pass(actor, opts, on_event, &mut warned)?;
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

    fn dock_pass(
        &self,
        actor: &str,
        opts: &DockOptions,
        on_event: &mut dyn FnMut(&DockEvent),
        warned: &mut std::collections::HashSet<String>,
    ) -> Result<()> {
        let mut devices: Vec<PathBuf> = std::fs::read_dir(&opts.dir)
            .map_err(|e| anyhow!("cannot read dock folder {}: {e}", opts.dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir())
            .collect();
        devices.sort();
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
            for path in files {
                self.dock_file(actor, opts, &device, &ctx, &path, on_event)?;
            }
        }
        Ok(())
    }

    fn dock_file(
        &self,
        actor: &str,
        opts: &DockOptions,
        device: &str,
        ctx: &crate::ingest::Resolved,
        path: &Path,
        on_event: &mut dyn FnMut(&DockEvent),
    ) -> Result<()> {
        let Ok(meta) = std::fs::metadata(path) else {
            return Ok(());
        }; // vanished: the device was undocked
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_millis() as Millis)
            .unwrap_or(0);
        let key = path.to_string_lossy().into_owned().into_bytes();
        let seen: Option<Seen> = self
            .store
            .get(store::DOCK, &key)?
            .and_then(|v| serde_json::from_slice(&v).ok());
        let hash = match seen {
            Some(s) if s.len == meta.len() && s.mtime == mtime => s.hash,
            _ => {
                if !opts.once && now_ms() - mtime < opts.settle.as_millis() as Millis {
                    return Ok(()); // still being written
                }
                let ack: Ack = match self.ingest_file(actor, path, ctx, &mut |_| {}) {
                    Ok(a) => a,
                    Err(e) => {
                        if matches!(
                            e.downcast_ref::<store::StoreError>(),
                            Some(store::StoreError::DiskFull(_))
                        ) {
                            return Err(e);
                        }
                        on_event(&DockEvent::Skipped {
                            device: device.to_string(),
                            path: Some(path.to_path_buf()),
                            why: format!("{e:#}"),
                        });
                        return Ok(());
                    }
                };
                let mut tx = self.begin();
                let record = Seen {
                    len: meta.len(),
                    mtime,
                    hash: ack.hash.clone(),
                };
                tx.put(store::DOCK, &key, &serde_json::to_vec(&record)?)?;
                tx.commit()?;
                on_event(&DockEvent::Ingested {
                    device: device.to_string(),
                    path: path.to_path_buf(),
                    hash: ack.hash.clone(),
                    size: ack.size,
                    duplicate: ack.duplicate,
                });
                ack.hash
            }
        };
        if opts.wipe {
            match self.wipe_source(actor, device, path, &hash) {
                Ok(()) => on_event(&DockEvent::Wiped {
                    device: device.to_string(),
                    path: path.to_path_buf(),
                    hash,
                }),
                Err(e) => on_event(&DockEvent::Skipped {
                    device: device.to_string(),
                    path: Some(path.to_path_buf()),
                    why: format!("not wiped: {e:#}"),
                }),
            }
        }
        Ok(())
    }

    /// Deletes `path` from the device only if the stored item re-verifies from disk
    /// and the file still hashes to the same root.
    fn wipe_source(&self, actor: &str, device: &str, path: &Path, hash: &str) -> Result<()> {
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
            &format!("item:{hash}"),
            json!({"device": device, "path": path.display().to_string()}),
            &[key],
        )?;
        tx.commit()?;
        std::fs::remove_file(path)
            .map_err(|e| anyhow!("cannot delete {} from the device: {e}", path.display()))
    }
}
