//! Art. 15 per matter: how long each matter of the catalogue keeps its footage
//! before it may be cleared. The regulation's default is three months; a bureau
//! sets longer periods for some matters, and tests and the demo set seconds so
//! things expire while one watches. `center.toml`:
//!
//! ```toml
//! [retention]
//! default = "3 months"
//! [retention.matters]
//! "M-03" = "1 year"
//! "M-07" = "30 s"
//! ```
//!
//! A period is a number and a unit: `s`/`seconds`, `min`/`minutes`, `h`/`hours`,
//! `d`/`days`, `months`, `years` (months and years are calendar months, as
//! [`crate::retention::add_months`] counts them).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::item::Item;
use crate::retention::{add_months, starts};
use crate::time::Millis;

/// A retention period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// calendar months (a year is 12)
    Months(u16),
    /// an exact span in milliseconds (seconds to days)
    Span(i64),
}

impl Period {
    pub const DEFAULT: Period = Period::Months(crate::retention::MONTHS as u16);

    /// `from` plus this period.
    pub fn after(self, from: Millis) -> Millis {
        match self {
            Period::Months(m) => {
                // add_months takes up to 255 months at a time
                let mut t = from;
                let mut left = m;
                while left > 0 {
                    let step = left.min(240);
                    t = add_months(t, step as u8);
                    left -= step;
                }
                t
            }
            Period::Span(ms) => from.saturating_add(ms),
        }
    }
}

impl std::str::FromStr for Period {
    type Err = String;

    fn from_str(s: &str) -> Result<Period, String> {
        let t = s.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (n, unit) = t.split_at(split);
        let bad = || {
            format!("retention period {s:?}: give a number and a unit (30 s, 12 h, 90 days, 3 months, 1 year)")
        };
        let n: u64 = n.parse().map_err(|_| bad())?;
        if n == 0 {
            return Err(format!("retention period {s:?}: must be more than zero"));
        }
        let span = |unit_ms: u64| {
            n.checked_mul(unit_ms)
                .and_then(|v| i64::try_from(v).ok())
                .map(Period::Span)
                .ok_or_else(|| format!("retention period {s:?} is too long"))
        };
        let months = |per: u64| {
            n.checked_mul(per)
                .filter(|m| *m <= 12 * 200)
                .map(|m| Period::Months(m as u16))
                .ok_or_else(|| format!("retention period {s:?}: at most 200 years"))
        };
        match unit.trim() {
            "s" | "sec" | "second" | "seconds" => span(1_000),
            "min" | "minute" | "minutes" => span(60_000),
            "h" | "hour" | "hours" => span(3_600_000),
            "d" | "day" | "days" => span(86_400_000),
            "month" | "months" => months(1),
            "y" | "year" | "years" => months(12),
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Period::Months(m) if m % 12 == 0 => write!(f, "{} years", m / 12),
            Period::Months(m) => write!(f, "{m} months"),
            Period::Span(ms) if ms % 86_400_000 == 0 => write!(f, "{} days", ms / 86_400_000),
            Period::Span(ms) if ms % 1_000 == 0 => write!(f, "{} s", ms / 1_000),
            Period::Span(ms) => write!(f, "{ms} ms"),
        }
    }
}

impl Serialize for Period {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Period {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Period, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The retention of every matter: a default and the matters that differ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// for every matter not listed, and for recordings linked to no activity
    #[serde(default = "default_period")]
    pub default: Period,
    /// matter id (as in the catalogue) → period
    #[serde(default)]
    pub matters: BTreeMap<String, Period>,
}

fn default_period() -> Period {
    Period::DEFAULT
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            default: Period::DEFAULT,
            matters: BTreeMap::new(),
        }
    }
}

impl Policy {
    /// The period of `matter` (`None`: a recording linked to no known activity).
    pub fn period(&self, matter: Option<&str>) -> Period {
        matter
            .and_then(|m| self.matters.get(m))
            .copied()
            .unwrap_or(self.default)
    }

    /// When `item` may be cleared; `activity` is its activity's matter and, once
    /// it ended, its departure.
    pub fn expires_at(&self, item: &Item, activity: Option<(&str, Option<Millis>)>) -> Millis {
        let matter = activity.map(|(m, _)| m).filter(|_| item.activity.is_some());
        let end = activity.and_then(|(_, e)| e);
        self.period(matter).after(starts(item, end))
    }

    /// A short fingerprint of the policy: projections built under another one are
    /// rebuilt when the center starts.
    pub fn fingerprint(&self) -> String {
        let mut text = format!("default={}", self.default);
        for (m, p) in &self.matters {
            text.push_str(&format!(";{m}={p}"));
        }
        blake3::hash(text.as_bytes()).to_hex()[..16].to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{format, parse};

    #[test]
    fn periods_parse_and_print() {
        let p = |s: &str| s.parse::<Period>();
        assert_eq!(p("30 s"), Ok(Period::Span(30_000)));
        assert_eq!(p("30s"), Ok(Period::Span(30_000)));
        assert_eq!(p("12 hours"), Ok(Period::Span(12 * 3_600_000)));
        assert_eq!(p("90 days"), Ok(Period::Span(90 * 86_400_000)));
        assert_eq!(p("3 months"), Ok(Period::Months(3)));
        assert_eq!(p("2 years"), Ok(Period::Months(24)));
        for bad in [
            "",
            "3",
            "months",
            "0 s",
            "3 fortnights",
            "-1 s",
            "999 years",
        ] {
            let e = p(bad).unwrap_err();
            assert!(e.starts_with("retention period"), "{bad}: {e}");
        }
        for s in ["30 s", "90 days", "3 months", "2 years"] {
            assert_eq!(p(s).unwrap().to_string(), s);
        }
    }

    #[test]
    fn a_matters_period_governs_its_activitys_items() {
        let policy: Policy = serde_json::from_value(serde_json::json!({
            "matters": {"M-LONG": "1 year", "M-FAST": "10 s"}
        }))
        .unwrap();
        assert_eq!(policy.default, Period::Months(3));
        let mut item = crate::retention::tests::item(Some("A-1"), "2026-11-20T09:00:00Z", 60_000);
        let end = parse("2026-11-20T10:00:00Z").unwrap();
        let at = |m: &str| format(policy.expires_at(&item, Some((m, Some(end)))));
        assert_eq!(at("M-LONG"), "2027-11-20T10:00:00Z");
        assert_eq!(at("M-FAST"), "2026-11-20T10:00:10Z");
        assert_eq!(at("M-OTHER"), "2027-02-20T10:00:00Z");
        // not ended: from the capture's end, under the matter's period
        assert_eq!(
            format(policy.expires_at(&item, Some(("M-FAST", None)))),
            "2026-11-20T09:01:10Z"
        );
        // unlinked: the default
        item.activity = None;
        assert_eq!(
            format(policy.expires_at(&item, Some(("M-FAST", Some(end))))),
            "2027-02-20T09:01:00Z"
        );
        assert_ne!(policy.fingerprint(), Policy::default().fingerprint());
    }
}
