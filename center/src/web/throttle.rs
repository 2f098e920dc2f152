//! Login throttle: failed logins counted per account and per client address
//! over a window (`[web] throttle_window_secs`). Past `login_failures_per_account`
//! (or `_per_address`) failures in the window, logins for that account (from that
//! address) are refused without looking at the password until the window of the
//! first counted failure has passed. A success clears the account's count.
//! Counts live in memory: a restart forgives, which an attacker cannot cause.

use std::collections::HashMap;
use std::sync::Mutex;

use jilu_common::time::Millis;

#[derive(Debug, Default)]
pub struct Throttle {
    /// key ("user:NAME", "addr:IP") -> (window start, failures in it)
    counts: Mutex<HashMap<String, (Millis, u32)>>,
}

/// What the limits are (from `[web]`).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub per_account: u32,
    pub per_address: u32,
    pub window_ms: i64,
}

impl Throttle {
    fn over(&self, key: &str, limit: u32, now: Millis, window: i64) -> bool {
        let Ok(m) = self.counts.lock() else {
            return true;
        };
        m.get(key)
            .is_some_and(|(start, n)| now - start < window && *n >= limit)
    }

    /// Whether a login for `user` from `addr` is refused now.
    pub fn blocked(&self, user: &str, addr: &str, l: Limits, now: Millis) -> bool {
        self.over(&format!("user:{user}"), l.per_account, now, l.window_ms)
            || self.over(&format!("addr:{addr}"), l.per_address, now, l.window_ms)
    }

    /// Counts a failure for both keys.
    pub fn failed(&self, user: &str, addr: &str, l: Limits, now: Millis) {
        let Ok(mut m) = self.counts.lock() else {
            return;
        };
        if m.len() > 100_000 {
            m.retain(|_, (start, _)| now - *start < l.window_ms);
        }
        for k in [format!("user:{user}"), format!("addr:{addr}")] {
            let e = m.entry(k).or_insert((now, 0));
            if now - e.0 >= l.window_ms {
                *e = (now, 0);
            }
            e.1 += 1;
        }
    }

    pub fn succeeded(&self, user: &str) {
        if let Ok(mut m) = self.counts.lock() {
            m.remove(&format!("user:{user}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engages_per_account_and_per_address_and_expires() {
        let l = Limits {
            per_account: 3,
            per_address: 5,
            window_ms: 1000,
        };
        let t = Throttle::default();
        for _ in 0..3 {
            assert!(!t.blocked("a", "1.1.1.1", l, 0));
            t.failed("a", "1.1.1.1", l, 0);
        }
        assert!(t.blocked("a", "2.2.2.2", l, 10), "per account");
        assert!(!t.blocked("b", "1.1.1.1", l, 10));
        t.failed("b", "1.1.1.1", l, 10);
        t.failed("c", "1.1.1.1", l, 10);
        assert!(t.blocked("d", "1.1.1.1", l, 20), "per address");
        assert!(!t.blocked("d", "3.3.3.3", l, 20));
        assert!(!t.blocked("a", "2.2.2.2", l, 1001), "the window passed");
        t.succeeded("a");
        assert!(!t.blocked("a", "2.2.2.2", l, 30));
    }
}
