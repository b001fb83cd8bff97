//! The calendar of measured costs (UTC days and months, as Cost Explorer counts them), the
//! forecast to the end of the month, and when figures are due to be asked for again.

use std::time::Duration;

use flightdeck_app::model::Timestamp;
use time::{Date, Month, OffsetDateTime};

/// The UTC day `at` falls on.
pub fn day_of(at: Timestamp) -> Date {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(at.unix_millis()) * 1_000_000)
        .map_or(OffsetDateTime::UNIX_EPOCH.date(), OffsetDateTime::date)
}

/// `2026-11`.
pub fn month_key(day: Date) -> String {
    format!("{:04}-{:02}", day.year(), u8::from(day.month()))
}

/// `2026-11-03`.
pub fn day_key(day: Date) -> String {
    format!("{month}-{:02}", day.day(), month = month_key(day))
}

/// Where a kept day (`2026-11-03`) goes in a month's list of daily figures: 0 for the 1st.
pub fn day_index(day: &str) -> Option<usize> {
    day.rsplit('-')
        .next()
        .and_then(|dd| dd.parse::<usize>().ok())
        .and_then(|dd| dd.checked_sub(1))
}

/// The first day of `day`'s month.
pub fn first_of_month(day: Date) -> Date {
    day.replace_day(1).unwrap_or(day)
}

pub fn days_in_month(day: Date) -> u8 {
    day.month().length(day.year())
}

/// Month-to-date spend and a forecast to the end of the month, from daily figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MonthToDate {
    pub spent_micros: i64,
    /// `None` before the first whole day of the month is known.
    pub forecast_micros: Option<i64>,
}

/// `daily` is the month's figure per day (index 0 is the 1st) up to and including `today`,
/// whose figure is partial. The forecast keeps the whole days as they are and counts every
/// remaining day, today included, at the average of the whole days: a straight line, which
/// is what a small team's steady services draw.
pub fn month_to_date(daily: &[i64], today: Date) -> MonthToDate {
    let spent_micros = daily.iter().sum();
    let whole = today.day() - 1;
    let forecast_micros = (whole > 0).then(|| {
        let so_far: i64 = daily.iter().take(usize::from(whole)).sum();
        let remaining = i64::from(days_in_month(today) - whole);
        so_far + so_far * remaining / i64::from(whole)
    });
    MonthToDate {
        spent_micros,
        forecast_micros,
    }
}

/// After a failed attempt the next comes sooner than after a success, so a network blip at
/// start does not leave the page without figures for hours (and a refusal costs nothing).
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(3600);

/// Whether an environment's costs should be asked for at `now`: never asked; asked in an
/// earlier month (a new month starts from nothing); or the last attempt older than `refresh`
/// (after a success) or [`RETRY_AFTER_FAILURE`] (after a failure, if that is sooner).
pub fn due(last: Option<(Timestamp, bool, &str)>, refresh: Duration, now: Timestamp) -> bool {
    let Some((attempted_at, succeeded, month)) = last else {
        return true;
    };
    if month != month_key(day_of(now)) {
        return true;
    }
    let wait = if succeeded {
        refresh
    } else {
        refresh.min(RETRY_AFTER_FAILURE)
    };
    let age = now.unix_millis() - attempted_at.unix_millis();
    age < 0 || u128::from(age.unsigned_abs()) >= wait.as_millis()
}

/// A month's name as people write it: `November 2026`.
pub fn month_name(day: Date) -> String {
    let name = match day.month() {
        Month::January => "January",
        Month::February => "February",
        Month::March => "March",
        Month::April => "April",
        Month::May => "May",
        Month::June => "June",
        Month::July => "July",
        Month::August => "August",
        Month::September => "September",
        Month::October => "October",
        Month::November => "November",
        Month::December => "December",
    };
    format!("{name} {}", day.year())
}

#[cfg(test)]
mod tests {
    use time::macros::{date, datetime};

    use super::*;

    fn at(t: OffsetDateTime) -> Timestamp {
        Timestamp::from_unix_millis(i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap())
    }

    #[test]
    fn days_and_months_are_utc() {
        let day = day_of(at(datetime!(2026-11-30 23:59:59 UTC)));
        assert_eq!(day_key(day), "2026-11-30");
        assert_eq!(month_key(day), "2026-11");
        assert_eq!(day_key(first_of_month(day)), "2026-11-01");
        assert_eq!(days_in_month(date!(2028 - 02 - 10)), 29);
        assert_eq!(month_name(day), "November 2026");
        assert_eq!(
            (day_index("2026-11-01"), day_index("2026-11-30")),
            (Some(0), Some(29))
        );
    }

    #[test]
    fn the_forecast_runs_the_whole_days_average_to_the_month_end() {
        // Ten whole days at $1 and a partial 11th: 30 days at $1.
        let mut daily = vec![1_000_000; 10];
        daily.push(200_000);
        let m = month_to_date(&daily, date!(2026 - 11 - 11));
        assert_eq!(m.spent_micros, 10_200_000);
        assert_eq!(m.forecast_micros, Some(30_000_000));
        // On the 1st nothing whole is known yet.
        let m = month_to_date(&[300_000], date!(2026 - 11 - 01));
        assert_eq!((m.spent_micros, m.forecast_micros), (300_000, None));
        // Days Cost Explorer has not reported count as nothing spent.
        let m = month_to_date(&[2_000_000], date!(2026 - 02 - 03));
        assert_eq!(m.forecast_micros, Some(28_000_000));
    }

    #[test]
    fn figures_are_due_after_the_refresh_a_failure_sooner_and_in_a_new_month() {
        let six_hours = Duration::from_secs(6 * 3600);
        let fetched = at(datetime!(2026-11-30 08:00 UTC));
        let later = |h: i64| Timestamp::from_unix_millis(fetched.unix_millis() + h * 3_600_000);
        assert!(due(None, six_hours, fetched));
        let ok = Some((fetched, true, "2026-11"));
        assert!(!due(ok, six_hours, later(5)));
        assert!(due(ok, six_hours, later(6)));
        let failed = Some((fetched, false, "2026-11"));
        assert!(!due(failed, six_hours, fetched));
        assert!(due(failed, six_hours, later(1)));
        // 16:00 on the 30th, then the 1st: December starts empty.
        assert!(!due(ok, six_hours, later(2)));
        assert!(due(
            Some((later(15), true, "2026-11")),
            six_hours,
            later(16)
        ));
        // A clock set back never waits for ever.
        assert!(due(ok, six_hours, later(-1)));
    }
}
