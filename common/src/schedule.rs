//! Upload order, the bandwidth cap and reconnect backoff: pure functions of their
//! inputs (time and randomness are passed in), so they are tested step by step.

use std::cmp::Ordering;

use crate::hash::Hash;
use crate::time::Millis;

/// An item waiting to upload, with what decides its turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub hash: Hash,
    /// under a hold or dispute (art. 16): first
    pub held: bool,
    /// art. 13 hand-over deadline of its activity, if linked
    pub deadline: Option<Millis>,
    pub ingested_at: Millis,
}

/// Metadata goes before any item (the session syncs documents first); then held
/// items, then by deadline, then oldest first.
pub fn upload_order(a: &Candidate, b: &Candidate) -> Ordering {
    b.held
        .cmp(&a.held)
        .then_with(|| match (a.deadline, b.deadline) {
            (Some(x), Some(y)) => x.cmp(&y),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        })
        .then_with(|| a.ingested_at.cmp(&b.ingested_at))
        .then_with(|| a.hash.cmp(&b.hash))
}

/// Jittered exponential backoff: `base · 2^attempt`, capped, times a factor in
/// [0.5, 1) so a county's edges do not reconnect in lock step after an outage.
#[derive(Debug, Clone)]
pub struct Backoff {
    pub base_ms: u64,
    pub cap_ms: u64,
    attempt: u32,
}

impl Backoff {
    pub fn new(base_ms: u64, cap_ms: u64) -> Self {
        Self {
            base_ms,
            cap_ms,
            attempt: 0,
        }
    }

    /// The next wait; `unit` is a random number in [0, 1).
    pub fn next_ms(&mut self, unit: f64) -> u64 {
        let exp = self
            .base_ms
            .saturating_mul(1u64 << self.attempt.min(20))
            .min(self.cap_ms);
        self.attempt = self.attempt.saturating_add(1);
        (exp as f64 * (0.5 + unit.clamp(0.0, 1.0) / 2.0)) as u64
    }

    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

/// A token bucket for the bandwidth cap: `rate` bytes per second, bursts of `burst`.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last_ms: Millis,
}

impl TokenBucket {
    pub fn new(rate_bytes_per_sec: u64, burst: u64, now: Millis) -> Self {
        Self {
            rate: rate_bytes_per_sec as f64,
            burst: burst as f64,
            tokens: burst as f64,
            last_ms: now,
        }
    }

    /// Takes `n` bytes at `now`; returns how many ms to wait before sending them.
    pub fn take(&mut self, n: u64, now: Millis) -> u64 {
        let elapsed = (now - self.last_ms).max(0) as f64 / 1000.0;
        self.last_ms = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.tokens -= n as f64;
        if self.tokens >= 0.0 || self.rate <= 0.0 {
            0
        } else {
            (-self.tokens / self.rate * 1000.0).ceil() as u64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(hash: &str, held: bool, deadline: Option<Millis>, ingested_at: Millis) -> Candidate {
        Candidate {
            hash: Hash::of(hash.as_bytes()),
            held,
            deadline,
            ingested_at,
        }
    }

    #[test]
    fn holds_then_deadlines_then_oldest() {
        let mut v = [
            c("old", false, None, 1),
            c("late", false, Some(50), 9),
            c("soon", false, Some(10), 8),
            c("held", true, None, 99),
            c("new", false, None, 5),
        ];
        v.sort_by(upload_order);
        let order: Vec<Hash> = v.iter().map(|c| c.hash).collect();
        let want = ["held", "soon", "late", "old", "new"].map(|n| Hash::of(n.as_bytes()));
        assert_eq!(order, want);
    }

    #[test]
    fn backoff_grows_caps_and_jitters() {
        let mut b = Backoff::new(200, 4000);
        let waits: Vec<u64> = (0..8).map(|_| b.next_ms(0.999)).collect();
        assert!(waits.windows(2).all(|w| w[0] <= w[1]), "{waits:?}");
        assert!(*waits.last().unwrap() < 4000 && *waits.last().unwrap() >= 3900);
        let mut low = Backoff::new(200, 4000);
        assert_eq!(low.next_ms(0.0), 100);
        b.reset();
        assert!(b.next_ms(0.5) < 200);
    }

    #[test]
    fn bucket_paces_to_rate() {
        let mut t = TokenBucket::new(1_000_000, 100_000, 0);
        assert_eq!(t.take(100_000, 0), 0, "the burst is free");
        assert_eq!(
            t.take(500_000, 0),
            500,
            "then half a second for half a megabyte"
        );
        assert_eq!(t.take(0, 500), 0);
        // over 10 simulated seconds, throughput stays at the rate
        let mut now = 500;
        let mut sent = 0u64;
        while now < 10_500 {
            now += t.take(65_536, now) as i64;
            sent += 65_536;
        }
        let rate = sent as f64 / 10.0;
        assert!((0.95e6..=1.1e6).contains(&rate), "{rate}");
    }
}
