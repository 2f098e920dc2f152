//! A recording held by Jilu: its content hash, where it came from and when it was made.

use serde::{Deserialize, Serialize};

use crate::hash::Hash;
use crate::media::{MediaKind, TimeSource};
use crate::time::Millis;

/// Everything known about one item (one distinct content hash). The same bytes
/// ingested again stay one item; each ingest is a custody event in the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    /// BLAKE3 root hash of the content (hex in JSON, 32 bytes on the wire)
    pub hash: Hash,
    pub size: u64,
    pub chunks: u64,
    pub kind: MediaKind,
    pub container: String,
    /// file name as it was on the device
    pub original_name: String,
    /// capture start in true time (device clock corrected by the check-out's offset)
    pub capture_start: Millis,
    pub duration_ms: Option<u64>,
    pub time_source: TimeSource,
    /// the device clock offset subtracted from the device's times
    pub clock_offset_ms: i64,
    pub device: String,
    pub officer: String,
    pub activity: Option<String>,
    /// when the item first became durable at this node
    pub ingested_at: Millis,
    /// storage period the chunks were written in (unit of eviction)
    pub period: String,
    /// county and node that ingested it (the center checks them against the certificate)
    pub county: String,
    pub node: String,
}

impl Item {
    /// End of the capture in true time (start for photos).
    pub fn capture_end(&self) -> Millis {
        self.capture_start + self.duration_ms.unwrap_or(0) as i64
    }

    /// Video and audio cover time; photos mark a moment.
    pub fn covers_time(&self) -> bool {
        matches!(self.kind, MediaKind::Video | MediaKind::Audio) && self.duration_ms.is_some()
    }
}
