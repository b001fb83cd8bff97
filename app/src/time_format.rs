//! How times are written on pages. Everything is computed from server-supplied timestamps, so
//! the server's HTML and the browser's hydrated view are identical.

use time::{OffsetDateTime, macros::format_description};

use crate::model::Timestamp;

/// `2026-11-22 14:03 UTC`, or the raw number when it is outside the calendar.
pub fn utc(ts: Timestamp) -> String {
    let format = format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ts.unix_millis()) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| format!("{} ms since 1970", ts.unix_millis()))
}

/// `2026-11-30 08:02:10 UTC`: a full date and time, for timelines.
pub fn utc_seconds(ts: Timestamp) -> String {
    let format = format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ts.unix_millis()) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| format!("{} ms since 1970", ts.unix_millis()))
}

/// `14:03:27`, for step logs.
pub fn clock(ts: Timestamp) -> String {
    let format = format_description!("[hour]:[minute]:[second]");
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ts.unix_millis()) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

/// Machine-readable form for `<time datetime=…>`.
pub fn iso8601(ts: Timestamp) -> String {
    let format = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ts.unix_millis()) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

fn datetime(ts: Timestamp) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ts.unix_millis()) * 1_000_000).ok()
}

/// `14:03:27.512`, for log lines.
pub fn log_clock(ts: Timestamp) -> String {
    let format = format_description!("[hour]:[minute]:[second].[subsecond digits:3]");
    datetime(ts)
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

/// `2026-11-22T14:03:27.512Z`, for downloaded log lines.
pub fn iso8601_millis(ts: Timestamp) -> String {
    let format =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    datetime(ts)
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

/// `2026-11-22T14:03`, the value of an `<input type="datetime-local">` (in UTC here).
pub fn datetime_local(ts: Timestamp) -> String {
    let format = format_description!("[year]-[month]-[day]T[hour]:[minute]");
    datetime(ts)
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

/// What a `datetime-local` input sends (`2026-11-22T14:03`, seconds optional), read as UTC.
pub fn parse_datetime_local(text: &str) -> Option<Timestamp> {
    let minutes = format_description!("[year]-[month]-[day]T[hour]:[minute]");
    let seconds = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    let at = time::PrimitiveDateTime::parse(text, &seconds)
        .or_else(|_| time::PrimitiveDateTime::parse(text, &minutes))
        .ok()?
        .assume_utc();
    let millis = i64::try_from(at.unix_timestamp_nanos() / 1_000_000).ok()?;
    Some(Timestamp::from_unix_millis(millis))
}

/// "just now", "5 min ago", "3 h ago", "2 days ago", relative to `now`.
pub fn ago(then: Timestamp, now: Timestamp) -> String {
    let secs = (now.unix_millis() - then.unix_millis()) / 1000;
    match secs {
        i64::MIN..=-1 => "in the future".to_owned(),
        0..=59 => "just now".to_owned(),
        60..=3_599 => format!("{} min ago", secs / 60),
        3_600..=86_399 => format!("{} h ago", secs / 3_600),
        86_400..=172_799 => "1 day ago".to_owned(),
        _ => format!("{} days ago", secs / 86_400),
    }
}

/// How long from `then` to `now`: "under a minute", "5 min", "3 h", "2 days".
pub fn span(then: Timestamp, now: Timestamp) -> String {
    let secs = (now.unix_millis() - then.unix_millis()).max(0) / 1000;
    match secs {
        0..=59 => "under a minute".to_owned(),
        60..=3_599 => format!("{} min", secs / 60),
        3_600..=86_399 => format!("{} h", secs / 3_600),
        86_400..=172_799 => "1 day".to_owned(),
        _ => format!("{} days", secs / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_times_and_the_range_input_round_trip() {
        let ts = Timestamp::from_unix_millis(1_795_356_207_512);
        assert_eq!(log_clock(ts), "14:03:27.512");
        assert_eq!(iso8601_millis(ts), "2026-11-22T14:03:27.512Z");
        assert_eq!(datetime_local(ts), "2026-11-22T14:03");
        assert_eq!(
            parse_datetime_local("2026-11-22T14:03"),
            Some(Timestamp::from_unix_millis(1_795_356_180_000))
        );
        assert_eq!(
            parse_datetime_local("2026-11-22T14:03:27"),
            Some(Timestamp::from_unix_millis(1_795_356_207_000))
        );
        assert_eq!(parse_datetime_local("yesterday"), None);
    }

    #[test]
    fn formats_utc_minutes() {
        // 2026-11-22T14:03:27.5Z
        let ts = Timestamp::from_unix_millis(1_795_356_207_500);
        assert_eq!(utc(ts), "2026-11-22 14:03 UTC");
        assert_eq!(iso8601(ts), "2026-11-22T14:03:27Z");
    }

    #[test]
    fn relative_times_use_the_supplied_now() {
        let now = Timestamp::from_unix_millis(10_000_000_000);
        let before = |s: i64| Timestamp::from_unix_millis(10_000_000_000 - s * 1000);
        assert_eq!(ago(before(5), now), "just now");
        assert_eq!(ago(before(300), now), "5 min ago");
        assert_eq!(ago(before(3 * 3600 + 5), now), "3 h ago");
        assert_eq!(ago(before(86_400 + 10), now), "1 day ago");
        assert_eq!(ago(before(9 * 86_400), now), "9 days ago");
        assert_eq!(ago(before(-60), now), "in the future");
        assert_eq!(span(before(20), now), "under a minute");
        assert_eq!(span(before(125), now), "2 min");
        assert_eq!(span(before(2 * 86_400), now), "2 days");
    }
}
