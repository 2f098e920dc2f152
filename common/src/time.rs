//! Timestamps: Unix milliseconds (UTC) everywhere inside Jilu, RFC 3339 at the edges.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Milliseconds since the Unix epoch, UTC.
pub type Millis = i64;

/// A time the user typed that Jilu could not read.
#[derive(Debug, thiserror::Error)]
#[error("'{0}' is not a time: use RFC 3339, e.g. 2026-11-20T09:30:00+08:00")]
pub struct BadTime(pub String);

/// RFC 3339 text for `ms`, in UTC with millisecond precision.
pub fn format(ms: Millis) -> String {
    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    t.format(&Rfc3339).unwrap_or_else(|_| ms.to_string())
}

/// Parses RFC 3339 (`2026-11-20T09:30:00+08:00`, `...Z`).
pub fn parse(text: &str) -> Result<Millis, BadTime> {
    let t = OffsetDateTime::parse(text.trim(), &Rfc3339).map_err(|_| BadTime(text.to_string()))?;
    Ok((t.unix_timestamp_nanos() / 1_000_000) as Millis)
}

/// The calendar month of `ms` in UTC, as `YYYY-MM` (names the monthly ledger documents).
pub fn month(ms: Millis) -> String {
    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    format!("{:04}-{:02}", t.year(), u8::from(t.month()))
}

/// Milliseconds from a civil date and time given in UTC (used by metadata parsers).
pub fn from_civil_utc(year: i32, month: u8, day: u8, h: u8, m: u8, s: u8) -> Option<Millis> {
    let month = time::Month::try_from(month).ok()?;
    let date = time::Date::from_calendar_date(year, month, day).ok()?;
    let tm = time::Time::from_hms(h, m, s).ok()?;
    Some(date.with_time(tm).assume_utc().unix_timestamp() * 1000)
}

/// A duration in words an archive keeper reads at a glance ("3h 05m", "42s").
pub fn human_duration(ms: i64) -> String {
    let s = ms.unsigned_abs() / 1000;
    let sign = if ms < 0 { "-" } else { "" };
    match s {
        0..=59 => format!("{sign}{s}s"),
        60..=3599 => format!("{sign}{}m {:02}s", s / 60, s % 60),
        3600..=86_399 => format!("{sign}{}h {:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{sign}{}d {:02}h", s / 86_400, (s % 86_400) / 3600),
    }
}

/// China Standard Time (UTC+8), the clock of the bureau and its counties.
pub const CST_MS: i64 = 8 * 3_600_000;

/// `2026-11-20 09:00:00`: `ms` as the pages show it, in China Standard Time.
pub fn cst(ms: Millis) -> String {
    let t = format(ms + CST_MS);
    t.get(..19).unwrap_or(&t).replacen('T', " ", 1)
}

/// The start of the China Standard Time day that contains `ms` ("today" in an office).
pub fn cst_day_start(ms: Millis) -> Millis {
    (ms + CST_MS).div_euclid(86_400_000) * 86_400_000 - CST_MS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_zone() {
        let ms = parse("2026-11-20T09:30:00+08:00").unwrap();
        assert_eq!(format(ms), "2026-11-20T01:30:00Z");
        assert_eq!(parse("2026-11-20T01:30:00.250Z").unwrap(), ms + 250);
        assert_eq!(month(ms), "2026-11");
        assert!(parse("yesterday").is_err());
        assert_eq!(from_civil_utc(2026, 11, 20, 1, 30, 0), Some(ms));
        assert_eq!(from_civil_utc(2026, 13, 1, 0, 0, 0), None);
        assert_eq!(human_duration(3_725_000), "1h 02m");
        // 2026-11-20T01:00:00Z is 09:00 in Beijing; its day began at 16:00 UTC the day before
        let ms = parse("2026-11-20T01:00:00Z").unwrap();
        assert_eq!(cst(ms), "2026-11-20 09:00:00");
        assert_eq!(cst_day_start(ms), parse("2026-11-19T16:00:00Z").unwrap());
        assert_eq!(
            cst_day_start(parse("2026-11-19T16:00:00Z").unwrap()),
            parse("2026-11-19T16:00:00Z").unwrap()
        );
    }
}
