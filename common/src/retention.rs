//! Art. 15: footage is kept 3 months; after that a keeper may clear what is not
//! worth keeping. This is the default rule, one pure function, so a retention
//! policy (issue 10) can replace it without touching the center's projections.
//!
//! The period starts when the activity the item belongs to ended (its
//! departure); for an item with no activity, or whose activity has not ended or
//! is not known, when the item's capture ended. An item on hold (art. 16) does
//! not expire: the caller leaves it out.

use crate::item::Item;
use crate::time::Millis;

/// Months of the default retention (art. 15).
pub const MONTHS: u8 = 3;

/// `ms` plus `months` calendar months in UTC; a day past the end of the target
/// month is clamped to its last day (31 Nov → 30 Nov).
pub fn add_months(ms: Millis, months: u8) -> Millis {
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000) else {
        return ms;
    };
    let total = i32::from(u8::from(t.month())) - 1 + i32::from(months);
    let year = t.year() + total.div_euclid(12);
    let Ok(month) = time::Month::try_from((total.rem_euclid(12) + 1) as u8) else {
        return ms;
    };
    let day = t.day().min(month.length(year));
    match time::Date::from_calendar_date(year, month, day) {
        Ok(d) => {
            let moved = t.replace_date(d);
            (moved.unix_timestamp_nanos() / 1_000_000) as Millis
        }
        Err(_) => ms,
    }
}

/// When the retention period starts for `item`; `activity_end` is the departure
/// of the item's activity when it is known and has ended.
pub fn starts(item: &Item, activity_end: Option<Millis>) -> Millis {
    match (&item.activity, activity_end) {
        (Some(_), Some(end)) => end,
        _ => item.capture_end(),
    }
}

/// When `item` may be cleared under the default rule.
pub fn expires_at(item: &Item, activity_end: Option<Millis>) -> Millis {
    add_months(starts(item, activity_end), MONTHS)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::time::{format, parse};

    pub(crate) fn item(activity: Option<&str>, capture: &str, duration_ms: u64) -> Item {
        Item {
            hash: crate::hash::Hash::from_bytes([0xab; 32]),
            size: 1,
            chunks: 1,
            kind: crate::media::MediaKind::Video,
            container: "mp4".into(),
            original_name: "V.MP4".into(),
            capture_start: parse(capture).unwrap(),
            duration_ms: Some(duration_ms),
            time_source: crate::media::TimeSource::Mvhd,
            clock_offset_ms: 0,
            device: "cam-01".into(),
            officer: "1001".into(),
            activity: activity.map(String::from),
            ingested_at: 0,
            period: "2026-11".into(),
            county: "410422".into(),
            node: "edge-410422".into(),
        }
    }

    #[test]
    fn three_calendar_months_after_the_activity_or_the_capture() {
        let at = |s| parse(s).unwrap();
        assert_eq!(
            format(add_months(at("2026-11-30T10:00:00Z"), 3)),
            "2027-02-28T10:00:00Z"
        );
        assert_eq!(
            format(add_months(at("2027-11-30T23:59:59.500Z"), 3)),
            "2028-02-29T23:59:59.5Z"
        );
        assert_eq!(
            format(add_months(at("2026-01-15T00:00:00Z"), 3)),
            "2026-04-15T00:00:00Z"
        );
        // linked and the activity ended: from the departure
        let linked = item(Some("A-1"), "2026-11-20T09:00:00Z", 60_000);
        assert_eq!(
            format(expires_at(&linked, Some(at("2026-11-20T10:00:00Z")))),
            "2027-02-20T10:00:00Z"
        );
        // linked, the activity not ended or not known: from the capture's end
        assert_eq!(format(expires_at(&linked, None)), "2027-02-20T09:01:00Z");
        // unlinked: from the capture's end, whatever is passed
        let unlinked = item(None, "2026-11-20T09:00:00Z", 120_000);
        assert_eq!(
            format(expires_at(&unlinked, Some(at("2030-01-01T00:00:00Z")))),
            "2027-02-20T09:02:00Z"
        );
    }
}
