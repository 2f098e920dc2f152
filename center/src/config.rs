//! `center.toml`: where the center listens, keeps its data and finds its
//! certificates. Every field is documented with its default and how to size it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Result};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CenterConfig {
    /// This center's node name: must be the name in its certificate (edges dial it by this name).
    pub node: String,
    /// UDP address for QUIC. Default 0.0.0.0:7443.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Where RocksDB (`db/`) and the verified blobs (`blobs/`) live. Relative paths are
    /// relative to this file.
    pub data_dir: PathBuf,
    pub tls: TlsFiles,
    #[serde(default)]
    pub limits: Limits,
    /// The JSON API (`[http]`); absent: no API.
    #[serde(default)]
    pub http: Option<crate::http::HttpConfig>,
    /// Accounts of the API (`[accounts]`: password hashing cost, token lifetime).
    #[serde(default)]
    pub accounts: crate::accounts::AccountsConfig,
    #[serde(default)]
    pub quotas: Quotas,
    /// The web UI's sessions and login throttle (`[web]`), served on `[http]`.
    #[serde(default)]
    pub web: crate::web::WebConfig,
    /// How long each matter keeps its footage (`[retention]`, art. 15): `default`
    /// and `[retention.matters]`, e.g. `"M-03" = "1 year"`. Default 3 months.
    #[serde(default)]
    pub retention: jilu_common::retention_policy::Policy,
    /// The equipment ratio report (`[report]`, art. 3).
    #[serde(default)]
    pub report: Report,
}

/// `[report]`: targets the bureau's reports compare against.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Report {
    /// Recording devices per enforcement officer a unit (county) should have
    /// (art. 3: the provincial equipment rules). Default 1.0; a unit below it is
    /// flagged in the report.
    pub devices_per_officer: f64,
}

impl Default for Report {
    fn default() -> Self {
        Self {
            devices_per_officer: 1.0,
        }
    }
}

/// What one county node may make the center keep. A node within these never
/// notices them; a hostile or broken one is refused with the quota's name.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Quotas {
    /// Documents one county may hold at the center (activities, ledgers, registry).
    /// Default 1,000,000: 20 activities a day and monthly ledgers for a century.
    pub documents: u64,
    /// Bytes of unfinished uploads one node may have at the center at once.
    /// Default 68719476736 (64 GiB): size it to the largest backlog a county
    /// uploads over a link that keeps breaking.
    pub partial_bytes: u64,
    /// Items one node may be offering at once, over all its connections. Default 8
    /// (an edge uploads `streams` items at once, 4 by default).
    pub offers_in_flight: u32,
    /// An unfinished upload with no progress for this long is dropped (chunks and
    /// record), unless its node is connected and offering it. Default 604800 (7 days).
    pub partial_expiry_secs: u64,
}

impl Default for Quotas {
    fn default() -> Self {
        Self {
            documents: 1_000_000,
            partial_bytes: 64 << 30,
            offers_in_flight: 8,
            partial_expiry_secs: 7 * 24 * 3600,
        }
    }
}

/// PEM files, as `certs issue` writes them.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca: PathBuf,
    /// The CA's revocation list. Re-read every `crl_reload_secs`: a revoked node's new
    /// handshakes are refused and its open connections closed. An expired CRL refuses
    /// every client (revocation must be current), so refresh it with `certs crl`.
    pub crl: PathBuf,
    #[serde(default = "default_crl_reload")]
    pub crl_reload_secs: u64,
}

/// Memory and concurrency bounds. QUIC flow-control windows bound the bytes in
/// flight per connection; each window costs at most its size in buffered memory.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Items one edge may upload at once (streams). Default 4.
    pub streams_per_edge: u32,
    /// Per-stream receive window, bytes. Default 4 MiB: four chunks in flight per item.
    pub stream_window: u32,
    /// Per-connection receive window, bytes. Default 16 MiB: memory bound per edge.
    pub connection_window: u32,
    /// Close a silent connection after this many ms. Default 15000; edges keep alive every 3 s.
    pub idle_timeout_ms: u32,
    /// Received chunks made durable (fsync + bitmap) at least every this many chunks. Default 8.
    pub sync_every_chunks: u32,
    /// A stream with no progress (no frame from the peer) for this many ms is
    /// closed and its item lock released; a connection whose control stream is
    /// that silent with no item stream open, or that sends no Hello within it, is
    /// closed. QUIC keep-alives do not count. Default 30000: at least twice the
    /// time one 1 MiB chunk takes at the slowest edge's bandwidth cap.
    pub stream_timeout_ms: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            streams_per_edge: 4,
            stream_window: 4 << 20,
            connection_window: 16 << 20,
            idle_timeout_ms: 15_000,
            sync_every_chunks: 8,
            stream_timeout_ms: 30_000,
        }
    }
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([0, 0, 0, 0], 7443))
}

fn default_crl_reload() -> u64 {
    5
}

impl CenterConfig {
    pub fn load(path: &Path) -> Result<CenterConfig> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow!("cannot read {}: {e}", path.display()))?;
        let mut cfg: CenterConfig = toml::from_str(&text)
            .map_err(|e| anyhow!("{} is not valid: {}", path.display(), e.message().trim()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let abs = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        abs(&mut cfg.data_dir);
        abs(&mut cfg.tls.cert);
        abs(&mut cfg.tls.key);
        abs(&mut cfg.tls.ca);
        abs(&mut cfg.tls.crl);
        let target = cfg.report.devices_per_officer;
        if !(target.is_finite() && target > 0.0) {
            return Err(anyhow!(
                "{}: [report] devices_per_officer = {target} is not a positive number of devices per officer",
                path.display()
            ));
        }
        if let Some(http) = cfg.http.as_mut() {
            http.resolve(base)
                .map_err(|e| anyhow!("{}: [http] {e}", path.display()))?;
        }
        Ok(cfg)
    }

    /// An annotated example, for `center example-config`.
    pub fn example() -> &'static str {
        include_str!("../center.example.toml")
    }
}
