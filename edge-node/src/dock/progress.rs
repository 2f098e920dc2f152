//! What each docked camera's ingest has done and has left, kept in memory by the
//! process that runs the dock (shared as [`SharedProgress`]) and read as a
//! [`DockSnapshot`] by whoever shows it (`dock watch`'s log, `status`).
//!
//! Updating it costs a lock and a few additions per 1 MiB chunk; nothing here
//! touches the store, so a snapshot never waits on an ingest.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use jilu_common::time::{self, Millis};
use serde::{Deserialize, Serialize};

/// The progress structure as the dock and its readers share it.
pub type SharedProgress = Arc<Mutex<DockProgress>>;

/// How quickly the shown rate follows a change: the weight of the newest
/// measurement in the moving average (one per chunk, so ~20 chunks of memory).
const RATE_WEIGHT: f64 = 0.05;

/// Every docked camera the dock has seen in this run.
#[derive(Debug, Default)]
pub struct DockProgress {
    cameras: BTreeMap<String, Camera>,
}

#[derive(Debug, Default)]
struct Camera {
    files_seen: u64,
    files_done: u64,
    files_failed: u64,
    bytes_done: u64,
    bytes_left: u64,
    current: Option<Current>,
    /// bytes per second, moving average over the recent chunks
    rate: f64,
    last: Option<(Instant, u64)>,
}

#[derive(Debug)]
struct Current {
    path: String,
    size: u64,
    done: u64,
    lane: u32,
}

/// One camera as a snapshot shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CameraSnapshot {
    pub device: String,
    /// files found to ingest in this pass (new or changed)
    pub files_seen: u64,
    pub files_done: u64,
    /// files that could not be ingested (unplugged mid-copy, unreadable)
    pub files_failed: u64,
    pub bytes_ingested: u64,
    pub bytes_left: u64,
    /// the file being ingested now and how far it is
    pub current: Option<String>,
    pub current_done: u64,
    pub current_size: u64,
    /// the ingest lane it writes through
    pub lane: Option<u32>,
    /// bytes per second over the recent chunks (0 when idle)
    pub rate_bytes_per_sec: f64,
    /// time to finish what is left at that rate
    pub eta_ms: Option<Millis>,
}

/// Every docked camera at one moment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DockSnapshot {
    pub cameras: Vec<CameraSnapshot>,
}

impl DockSnapshot {
    /// Cameras with an ingest in progress.
    pub fn active(&self) -> usize {
        self.cameras.iter().filter(|c| c.current.is_some()).count()
    }
}

impl DockProgress {
    pub fn shared() -> SharedProgress {
        Arc::new(Mutex::new(DockProgress::default()))
    }

    /// A pass found `files` to ingest from `device`, `bytes` in all.
    pub fn found(&mut self, device: &str, files: u64, bytes: u64) {
        let c = self.cameras.entry(device.to_string()).or_default();
        c.files_seen += files;
        c.bytes_left += bytes;
    }

    /// `device` starts on `path` (`size` bytes) through ingest lane `lane`.
    pub fn start(&mut self, device: &str, path: &str, size: u64, lane: u32) {
        let c = self.cameras.entry(device.to_string()).or_default();
        c.current = Some(Current {
            path: path.to_string(),
            size,
            done: 0,
            lane,
        });
        c.last = Some((Instant::now(), 0));
    }

    /// The current file of `device` has `done` bytes stored.
    pub fn advance(&mut self, device: &str, done: u64) {
        let Some(c) = self.cameras.get_mut(device) else {
            return;
        };
        let Some(cur) = c.current.as_mut() else {
            return;
        };
        let step = done.saturating_sub(cur.done);
        cur.done = done;
        c.bytes_done += step;
        c.bytes_left = c.bytes_left.saturating_sub(step);
        let now = Instant::now();
        if let Some((at, before)) = c.last {
            let secs = now.duration_since(at).as_secs_f64();
            if secs > 0.0 {
                let r = done.saturating_sub(before) as f64 / secs;
                c.rate = if c.rate == 0.0 {
                    r
                } else {
                    c.rate + RATE_WEIGHT * (r - c.rate)
                };
            }
        }
        c.last = Some((now, done));
    }

    /// The current file of `device` ended: stored (`ok`) or not. What it did not
    /// store is no longer counted as left: a failed file is retried by a later
    /// pass, which counts it again.
    pub fn finish(&mut self, device: &str, ok: bool) {
        let Some(c) = self.cameras.get_mut(device) else {
            return;
        };
        if let Some(cur) = c.current.take() {
            if ok {
                c.files_done += 1;
            } else {
                c.files_failed += 1;
                // the bytes it stored were discarded with it
                c.bytes_done = c.bytes_done.saturating_sub(cur.done);
            }
            c.bytes_left = c
                .bytes_left
                .saturating_sub(cur.size.saturating_sub(cur.done));
        }
        c.last = None;
        if c.bytes_left == 0 {
            c.rate = 0.0;
        }
    }

    /// A copy to show, taken under the lock.
    pub fn snapshot(&self) -> DockSnapshot {
        DockSnapshot {
            cameras: self
                .cameras
                .iter()
                .map(|(device, c)| CameraSnapshot {
                    device: device.clone(),
                    files_seen: c.files_seen,
                    files_done: c.files_done,
                    files_failed: c.files_failed,
                    bytes_ingested: c.bytes_done,
                    bytes_left: c.bytes_left,
                    current: c.current.as_ref().map(|cur| cur.path.clone()),
                    current_done: c.current.as_ref().map_or(0, |cur| cur.done),
                    current_size: c.current.as_ref().map_or(0, |cur| cur.size),
                    lane: c.current.as_ref().map(|cur| cur.lane),
                    rate_bytes_per_sec: c.rate,
                    eta_ms: (c.rate > 0.0 && c.bytes_left > 0)
                        .then(|| (c.bytes_left as f64 / c.rate * 1000.0) as Millis),
                })
                .collect(),
        }
    }
}

/// A snapshot as lines of the archive keeper's status view.
pub fn render(s: &DockSnapshot) -> String {
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    let mut out = format!(
        "  docked cameras:    {} ({} ingesting now)\n",
        s.cameras.len(),
        s.active()
    );
    for c in &s.cameras {
        let now = match &c.current {
            Some(p) => format!(
                "; now {p} {:.0}/{:.0} MiB",
                mib(c.current_done),
                mib(c.current_size)
            ),
            None => String::new(),
        };
        let rate = if c.rate_bytes_per_sec > 0.0 {
            format!(", {:.1} MiB/s", c.rate_bytes_per_sec / (1 << 20) as f64)
        } else {
            String::new()
        };
        let eta = c
            .eta_ms
            .map(|ms| format!(", done in about {}", time::human_duration(ms)))
            .unwrap_or_default();
        let failed = if c.files_failed > 0 {
            format!(", {} not stored (retried when back)", c.files_failed)
        } else {
            String::new()
        };
        out.push_str(&format!(
            "    {}: {}/{} files, {:.1} MiB stored, {:.1} MiB left{rate}{eta}{failed}{now}\n",
            c.device,
            c.files_done,
            c.files_seen,
            mib(c.bytes_ingested),
            mib(c.bytes_left)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_camera_counts_what_it_stored_and_what_is_left() {
        let mut p = DockProgress::default();
        p.found("cam-01", 2, 300);
        p.start("cam-01", "A.MP4", 100, 3);
        p.advance("cam-01", 60);
        let s = p.snapshot();
        assert_eq!(s.active(), 1);
        let c = &s.cameras[0];
        assert_eq!((c.bytes_ingested, c.bytes_left, c.lane), (60, 240, Some(3)));
        p.advance("cam-01", 100);
        p.finish("cam-01", true);
        // the second file fails half-way: its bytes are not counted as stored
        p.start("cam-01", "B.MP4", 200, 3);
        p.advance("cam-01", 50);
        p.finish("cam-01", false);
        let c = &p.snapshot().cameras[0];
        assert_eq!(
            (c.files_seen, c.files_done, c.files_failed),
            (2, 1, 1),
            "{c:?}"
        );
        assert_eq!((c.bytes_ingested, c.bytes_left), (100, 0), "{c:?}");
        assert_eq!(c.current, None);
        assert_eq!(c.eta_ms, None);
        let text = render(&p.snapshot());
        assert!(text.contains("cam-01: 1/2 files"), "{text}");
        assert!(text.contains("1 not stored"), "{text}");
    }
}
