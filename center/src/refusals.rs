//! Refusals of one peer, logged at a bounded rate: the first few in each minute
//! are logged (kind, size and escaped reason, never the payload), the rest are
//! counted and the count is logged with the next line that is let through. A
//! hostile node that sends ten thousand junk streams writes a handful of lines.
//! Every refusal, logged or not, is counted by [`Reason`] for `/metrics`
//! (`jilu_quic_refusals_total{reason=...}`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Why the QUIC side refused something: a fixed set, so `/metrics` has one
/// series per reason however hostile the peers are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// the TLS handshake failed (unknown CA, revoked or expired certificate)
    Handshake,
    /// the certificate is valid but carries no edge identity (a center's, or none)
    Identity,
    /// a certificate revoked while its connection was open
    Revoked,
    /// a connection that sent no Hello within the stream timeout
    NoHello,
    /// a control stream that broke the protocol (bad frame, bad Hello, silence)
    Control,
    /// an item stream that broke the protocol
    Stream,
    /// a merged document that failed its checks or a quota
    Document,
    /// an offer refused: bad item record, wrong county, quota
    Offer,
}

impl Reason {
    pub const ALL: [Reason; 8] = [
        Reason::Handshake,
        Reason::Identity,
        Reason::Revoked,
        Reason::NoHello,
        Reason::Control,
        Reason::Stream,
        Reason::Document,
        Reason::Offer,
    ];

    /// The `reason` label.
    pub fn label(self) -> &'static str {
        match self {
            Reason::Handshake => "handshake",
            Reason::Identity => "identity",
            Reason::Revoked => "revoked",
            Reason::NoHello => "no_hello",
            Reason::Control => "control_stream",
            Reason::Stream => "item_stream",
            Reason::Document => "document",
            Reason::Offer => "offer",
        }
    }
}

/// Lines logged per peer per minute.
pub const PER_MINUTE: u32 = 5;

#[derive(Debug, Default)]
struct Window {
    minute: i64,
    logged: u32,
    suppressed: u64,
    total: u64,
}

#[derive(Debug, Default)]
pub struct RefusalLog {
    peers: Mutex<HashMap<String, Window>>,
    counts: [AtomicU64; Reason::ALL.len()],
}

/// What to do with one refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Note {
    /// log it, saying how many were not logged before it; `total` since start
    Log { suppressed: u64, total: u64 },
    /// count it only
    Quiet,
}

impl RefusalLog {
    /// Counts a refusal that has no peer to rate-limit (a failed handshake).
    pub fn count(&self, reason: Reason) {
        self.counts[reason as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Refusals since start, by reason.
    pub fn counts(&self) -> Vec<(Reason, u64)> {
        Reason::ALL
            .iter()
            .map(|r| (*r, self.counts[*r as usize].load(Ordering::Relaxed)))
            .collect()
    }

    /// Counts a refusal of `node` at `now_ms` and says whether to log it.
    pub fn note(&self, node: &str, reason: Reason, now_ms: i64) -> Note {
        self.count(reason);
        let mut map = self.peers.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 10_000 {
            // nodes are certificate identities, so few; never grow without bound
            map.clear();
        }
        let w = map.entry(node.to_string()).or_default();
        let minute = now_ms.div_euclid(60_000);
        if w.minute != minute {
            w.minute = minute;
            w.logged = 0;
        }
        w.total += 1;
        if w.logged < PER_MINUTE {
            w.logged += 1;
            let suppressed = std::mem::take(&mut w.suppressed);
            Note::Log {
                suppressed,
                total: w.total,
            }
        } else {
            w.suppressed += 1;
            Note::Quiet
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_logs_a_few_lines_and_counts_the_rest() {
        let log = RefusalLog::default();
        let logged = (0..1000)
            .filter(|_| matches!(log.note("n", Reason::Offer, 0), Note::Log { .. }))
            .count();
        assert_eq!(logged, PER_MINUTE as usize);
        assert_eq!(
            log.note("n", Reason::Document, 60_000),
            Note::Log {
                suppressed: 1000 - PER_MINUTE as u64,
                total: 1001
            }
        );
        assert!(matches!(
            log.note("other", Reason::Offer, 0),
            Note::Log { suppressed: 0, .. }
        ));
        log.count(Reason::Handshake);
        let counts: HashMap<&str, u64> = log
            .counts()
            .into_iter()
            .map(|(r, n)| (r.label(), n))
            .collect();
        assert_eq!(counts["offer"], 1001);
        assert_eq!(counts["document"], 1);
        assert_eq!(counts["handshake"], 1);
        assert_eq!(counts["no_hello"], 0);
        assert_eq!(counts.len(), Reason::ALL.len());
    }
}
