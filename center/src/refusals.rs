//! Refusals of one peer, logged at a bounded rate: the first few in each minute
//! are logged (kind, size and escaped reason, never the payload), the rest are
//! counted and the count is logged with the next line that is let through. A
//! hostile node that sends ten thousand junk streams writes a handful of lines.

use std::collections::HashMap;
use std::sync::Mutex;

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
pub struct RefusalLog(Mutex<HashMap<String, Window>>);

/// What to do with one refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Note {
    /// log it, saying how many were not logged before it; `total` since start
    Log { suppressed: u64, total: u64 },
    /// count it only
    Quiet,
}

impl RefusalLog {
    /// Notes a refusal of `node` at `now_ms`.
    pub fn note(&self, node: &str, now_ms: i64) -> Note {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
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
            .filter(|_| matches!(log.note("n", 0), Note::Log { .. }))
            .count();
        assert_eq!(logged, PER_MINUTE as usize);
        assert_eq!(
            log.note("n", 60_000),
            Note::Log {
                suppressed: 1000 - PER_MINUTE as u64,
                total: 1001
            }
        );
        assert!(matches!(
            log.note("other", 0),
            Note::Log { suppressed: 0, .. }
        ));
    }
}
