//! The edge node's configuration: `edge.toml` in the data directory, written by
//! `edge-node init` with every field and its default, and read by every command.

use std::path::Path;

use jilu_common::compliance::Rules;
use jilu_common::ledger::CheckPolicy;
use serde::{Deserialize, Serialize};

pub const FILE_NAME: &str = "edge.toml";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EdgeConfig {
    /// This node's name, unique in the city (later: the name in its certificate).
    pub node: String,
    /// The county (区县) code this office belongs to: its documents are its own.
    pub county: String,
    /// Time zone of the devices' clocks, in minutes east of UTC (China: 480). Used for
    /// EXIF times, which carry no zone. Default 480.
    #[serde(default = "default_offset")]
    pub device_utc_offset_minutes: i32,
    /// Pre-use check thresholds (art. 7).
    #[serde(default)]
    pub check: CheckPolicy,
    /// Compliance checks shown by `status` (art. 5, 6, 8, 12, 13).
    #[serde(default)]
    pub rules: Rules,
    /// The city center this office uploads to; absent: the node works offline only.
    #[serde(default)]
    pub center: Option<CenterLink>,
    /// Local footage space.
    #[serde(default)]
    pub storage: Storage,
    /// The docking station (`dock watch`, `run --dock`).
    #[serde(default)]
    pub dock: Dock,
    /// The office page (`run --http`).
    #[serde(default)]
    pub http: Http,
}

/// The county office page, served by `edge-node run` (see [`crate::office`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Http {
    /// Loopback address to serve the office page on, e.g. "127.0.0.1:8470";
    /// absent (default): no office page. `run --http ADDR` overrides it.
    pub listen: Option<std::net::SocketAddr>,
}

/// How to reach the center. Certificate paths are relative to the data directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CenterLink {
    /// UDP address of the center, e.g. "10.1.0.5:7443".
    pub addr: String,
    /// The center's node name (the name in its certificate).
    pub name: String,
    /// This node's certificate and key and the CA, as `certs issue` wrote them.
    pub cert: std::path::PathBuf,
    pub key: std::path::PathBuf,
    pub ca: std::path::PathBuf,
    /// Items uploaded at once (QUIC streams). Default 2.
    #[serde(default = "default_streams")]
    pub streams: u32,
    /// Upload cap in bytes per second; 0 = no cap. Share a thin county link with a cap.
    #[serde(default)]
    pub bandwidth_bytes_per_sec: u64,
    /// Keep-alive on the link, ms. Default 2000: a cut link is noticed within the idle timeout.
    #[serde(default = "default_keepalive")]
    pub keepalive_ms: u64,
    /// A silent link is given up after this many ms and redialled. Default 8000.
    #[serde(default = "default_idle")]
    pub idle_timeout_ms: u64,
    /// Reconnect backoff cap, ms (jittered exponential from 200 ms). Default 4000.
    #[serde(default = "default_backoff_cap")]
    pub backoff_cap_ms: u64,
}

fn default_streams() -> u32 {
    2
}
fn default_keepalive() -> u64 {
    2000
}
fn default_idle() -> u64 {
    8000
}
fn default_backoff_cap() -> u64 {
    4000
}

/// Local footage space.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Storage {
    /// When stored footage exceeds this many bytes, footage the center has verified
    /// is freed, oldest first, until it is below. 0 (default): never free footage.
    pub evict_watermark_bytes: u64,
}

/// The docking station.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Dock {
    /// Docked cameras ingested at once; 0 (default): one per CPU core. Each camera
    /// in progress costs up to 256 MiB / N of memtables (N = this number, when
    /// above 1; 160 MiB alone) plus 6 MiB of read buffers. Ingest is CPU-bound on a
    /// small machine (hashing, RocksDB's checksums), so more cameras than cores
    /// gains little there unless the cameras themselves are slow to read (USB 2.0
    /// cameras at ~30 MB/s each: raise it so the disk stays busy).
    pub concurrent_cameras: usize,
}

impl Dock {
    /// The configured number of cameras at once, 0 resolved to the CPU cores.
    pub fn cameras(&self) -> usize {
        resolve_cameras(self.concurrent_cameras)
    }
}

/// `n` cameras at once, or one per CPU core when `n` is 0.
pub fn resolve_cameras(n: usize) -> usize {
    if n > 0 {
        n
    } else {
        std::thread::available_parallelism().map_or(1, |p| p.get())
    }
}

fn default_offset() -> i32 {
    480
}

impl EdgeConfig {
    pub fn new(node: &str, county: &str) -> Self {
        Self {
            node: node.to_string(),
            county: county.to_string(),
            device_utc_offset_minutes: default_offset(),
            check: CheckPolicy::default(),
            rules: Rules::default(),
            center: None,
            storage: Storage::default(),
            dock: Dock::default(),
            http: Http::default(),
        }
    }

    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        let path = dir.join(FILE_NAME);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                anyhow::anyhow!(
                    "no edge store at {}: run `edge-node init --node NAME --county CODE` first (or pass --data-dir)",
                    dir.display()
                )
            } else {
                anyhow::anyhow!("cannot read {}: {e}", path.display())
            }
        })?;
        toml::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{} is not valid: {}", path.display(), e.message()))
    }

    /// The annotated file `init` writes.
    pub fn to_toml(&self) -> String {
        format!(
            "# Jilu edge node configuration. Written by `edge-node init`; edit and restart.\n\
             \n\
             # This node's name, unique in the city.\n\
             node = {node:?}\n\
             # County (区县) code of this office. Its activity and ledger documents belong to it.\n\
             county = {county:?}\n\
             # Time zone of device clocks in minutes east of UTC (China: 480); used for EXIF times.\n\
             device_utc_offset_minutes = {off}\n\
             \n\
             # Pre-use check (art. 7): a check-out below these is refused unless overridden with a reason.\n\
             [check]\n\
             min_battery_pct = {bat}\n\
             min_free_storage_mb = {mb}\n\
             max_clock_offset_ms = {clk}\n\
             \n\
             # Compliance checks shown by `edge-node status`.\n\
             [rules]\n\
             # art. 13: hours after an activity ends by which its footage must be ingested.\n\
             handover_hours = {hh}\n\
             # Gaps between recordings shorter than this (ms) are file splits, not coverage gaps.\n\
             gap_tolerance_ms = {gap}\n\
             \n\
             # Local footage space: above this many bytes, footage the center has verified is\n\
             # freed, oldest first. 0 = never free footage.\n\
             [storage]\n\
             evict_watermark_bytes = 0\n\
             \n\
             # The docking station (`dock watch`, `run --dock`).\n\
             [dock]\n\
             # Cameras ingested at once (one at a time per camera, files in name order).\n\
             # 0 = one per CPU core. Each camera in progress uses up to 256 MiB / N of\n\
             # memory (160 MiB when N is 1) plus 6 MiB. Ingest is CPU-bound on a small\n\
             # machine: more cameras than cores only helps when the cameras are slow to\n\
             # read (USB 2.0, ~30 MB/s each). `dock watch --cameras N` overrides it.\n\
             concurrent_cameras = {cams}\n\
             \n\
             # The office page: `edge-node run` serves the web UI for this county on this\n\
             # loopback address (plain HTTP; any other address is refused). `run --http` overrides it.\n\
             [http]\n\
             # listen = \"127.0.0.1:8470\"\n\
             \n\
             # The city center (uncomment and fill in to upload; certificate paths are relative\n\
             # to this folder; see README, \"Deployment\").\n\
             # [center]\n\
             # addr = \"10.1.0.5:7443\"\n\
             # name = \"center-city\"\n\
             # cert = \"certs/{node}.pem\"\n\
             # key = \"certs/{node}.key\"\n\
             # ca = \"certs/ca.pem\"\n\
             # streams = 2\n\
             # bandwidth_bytes_per_sec = 0\n",
            node = self.node,
            county = self.county,
            off = self.device_utc_offset_minutes,
            bat = self.check.min_battery_pct,
            mb = self.check.min_free_storage_mb,
            clk = self.check.max_clock_offset_ms,
            hh = self.rules.handover_hours,
            gap = self.rules.gap_tolerance_ms,
            cams = self.dock.concurrent_cameras,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_file_reads_back() {
        let c = EdgeConfig::new("edge-410402", "410402");
        let back: EdgeConfig = toml::from_str(&c.to_toml()).unwrap();
        assert_eq!(back, c);
    }
}
