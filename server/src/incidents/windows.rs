//! Freeze windows from the configuration (`[[freeze]]`): when one is on, and when the next
//! one starts. Times are worked out in the window's own zone, so "every Friday 16:00 for 64 h"
//! in Europe/Berlin starts at 16:00 on either side of a daylight-saving change; a start that
//! falls in the hour the clocks skip begins at the same wall time after it (jiff's
//! "compatible" rule), and one in the hour that repeats begins at its first occurrence.

use flightdeck_app::model::{DeployKind, EnvName, ServiceName, Timestamp};
use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;

use crate::config::{FreezeWhen, FreezeWindow};

/// One run of a window: from `start` up to (not including) `end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Occurrence {
    pub start: Timestamp,
    pub end: Timestamp,
}

/// How far ahead the next run of a recurring window is looked for.
const LOOK_AHEAD_DAYS: usize = 400;

fn instant(t: DateTime, tz: &TimeZone) -> Option<Timestamp> {
    let zoned = t.to_zoned_datetime(tz.clone()).ok()?;
    Some(Timestamp::from_unix_millis(
        zoned.timestamp().as_millisecond(),
    ))
}

fn local_date(at: Timestamp, tz: &TimeZone) -> Option<Date> {
    let ts = jiff::Timestamp::from_millisecond(at.unix_millis()).ok()?;
    Some(ts.to_zoned_datetime(tz.clone()).date())
}

fn millis(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The runs of a recurring window that start on local day `day`.
fn starts_on(w: &FreezeWindow, day: Date) -> Vec<Timestamp> {
    let FreezeWhen::Recurring { schedule, .. } = &w.when else {
        return Vec::new();
    };
    let weekday = u32::try_from(day.weekday().to_sunday_zero_offset()).unwrap_or(0);
    let (month, dom) = (
        u32::try_from(day.month()).unwrap_or(0),
        u32::try_from(day.day()).unwrap_or(0),
    );
    if !schedule.on_day(month, dom, weekday) {
        return Vec::new();
    }
    schedule
        .times()
        .filter_map(|(h, m)| {
            let t = day.at(i8::try_from(h).ok()?, i8::try_from(m).ok()?, 0, 0);
            instant(t, &w.time_zone)
        })
        .collect()
}

/// The run of `w` that is on at `at`, if any (the latest to have started, for overlapping runs).
pub fn occurrence_at(w: &FreezeWindow, at: Timestamp) -> Option<Occurrence> {
    match &w.when {
        FreezeWhen::Recurring { duration, .. } => {
            let length = millis(*duration);
            let earliest = Timestamp::from_unix_millis(at.unix_millis().saturating_sub(length));
            let mut day = local_date(earliest, &w.time_zone)?.yesterday().ok()?;
            let last = local_date(at, &w.time_zone)?;
            let mut found: Option<Occurrence> = None;
            while day <= last {
                for start in starts_on(w, day) {
                    let end =
                        Timestamp::from_unix_millis(start.unix_millis().saturating_add(length));
                    if start <= at && at < end && found.is_none_or(|f| start > f.start) {
                        found = Some(Occurrence { start, end });
                    }
                }
                day = day.tomorrow().ok()?;
            }
            found
        }
        FreezeWhen::Dates(ranges) => ranges.iter().find_map(|(from, to)| {
            let (start, end) = (instant(*from, &w.time_zone)?, instant(*to, &w.time_zone)?);
            (start <= at && at < end).then_some(Occurrence { start, end })
        }),
    }
}

/// The first run of `w` that starts after `at`.
pub fn next_after(w: &FreezeWindow, at: Timestamp) -> Option<Occurrence> {
    match &w.when {
        FreezeWhen::Recurring { duration, .. } => {
            let mut day = local_date(at, &w.time_zone)?;
            for _ in 0..LOOK_AHEAD_DAYS {
                if let Some(start) = starts_on(w, day).into_iter().find(|s| *s > at) {
                    let end = Timestamp::from_unix_millis(
                        start.unix_millis().saturating_add(millis(*duration)),
                    );
                    return Some(Occurrence { start, end });
                }
                day = day.tomorrow().ok()?;
            }
            None
        }
        FreezeWhen::Dates(ranges) => ranges
            .iter()
            .filter_map(|(from, to)| {
                let (start, end) = (instant(*from, &w.time_zone)?, instant(*to, &w.time_zone)?);
                (start > at).then_some(Occurrence { start, end })
            })
            .min_by_key(|o| o.start),
    }
}

/// "production (all services)", "staging, production: shop".
pub fn scope(w: &FreezeWindow) -> String {
    flightdeck_app::model::scope_text(
        w.environments.iter().map(EnvName::as_str),
        w.services.iter().map(ServiceName::as_str),
    )
}

/// Whether `w` is about `service` in `env` at all.
pub fn applies_to(w: &FreezeWindow, env: &EnvName, service: &ServiceName) -> bool {
    w.environments.contains(env) && (w.services.is_empty() || w.services.contains(service))
}

/// The window that freezes a change of `kind` to `service` in `env` at `at`, with its run:
/// deploys and promotions are frozen; rollbacks and restarts are not.
pub fn frozen_by<'w>(
    windows: &'w [FreezeWindow],
    env: &EnvName,
    service: &ServiceName,
    kind: DeployKind,
    at: Timestamp,
) -> Option<(&'w FreezeWindow, Occurrence)> {
    if matches!(kind, DeployKind::Rollback | DeployKind::Restart) {
        return None;
    }
    windows
        .iter()
        .filter(|w| applies_to(w, env, service))
        .find_map(|w| occurrence_at(w, at).map(|o| (w, o)))
}

/// "frozen by window weekend (no deploys over the weekend) until 2026-11-30 07:00 UTC".
pub fn frozen_message(w: &FreezeWindow, o: &Occurrence) -> String {
    format!(
        "frozen by window {} ({}) until {}",
        w.name,
        w.reason,
        flightdeck_app::time_format::utc(o.end)
    )
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::Config;

    fn windows(freeze: &str) -> Vec<FreezeWindow> {
        let text = format!(
            "[[environment]]\nname = \"production\"\ndocker = {{}}\n\n\
             [[service]]\nname = \"shop\"\ntargets.production = {{ container = \"shop\" }}\n\n\
             {freeze}"
        );
        Config::parse(Path::new("f.toml"), &text).unwrap().freezes
    }

    fn utc(text: &str) -> Timestamp {
        let ts: jiff::Timestamp = text.parse().unwrap();
        Timestamp::from_unix_millis(ts.as_millisecond())
    }

    #[test]
    fn a_weekend_window_keeps_its_wall_clock_across_the_autumn_change() {
        // Berlin leaves summer time on Sunday 25 October 2026 (03:00 CEST -> 02:00 CET).
        let w = windows(
            "[[freeze]]\nname = \"weekend\"\nenvironments = [\"production\"]\n\
             reason = \"no deploys over the weekend\"\nschedule = \"0 16 * * fri\"\n\
             duration = \"64h\"\ntime_zone = \"Europe/Berlin\"\n",
        );
        let w = &w[0];
        // Friday 16:00 CEST is 14:00 UTC; 64 hours later is Monday 06:00 UTC (07:00 CET).
        assert_eq!(occurrence_at(w, utc("2026-10-23T13:59:59Z")), None);
        let on = occurrence_at(w, utc("2026-10-23T14:00:00Z")).unwrap();
        assert_eq!(
            (on.start, on.end),
            (utc("2026-10-23T14:00:00Z"), utc("2026-10-26T06:00:00Z"))
        );
        assert_eq!(occurrence_at(w, utc("2026-10-26T05:59:59Z")), Some(on));
        assert_eq!(occurrence_at(w, utc("2026-10-26T06:00:00Z")), None);
        // The next Friday is in winter time: 16:00 CET is 15:00 UTC.
        let next = next_after(w, utc("2026-10-26T06:00:00Z")).unwrap();
        assert_eq!(next.start, utc("2026-10-30T15:00:00Z"));
        assert_eq!(
            frozen_message(w, &on),
            "frozen by window weekend (no deploys over the weekend) until 2026-10-26 06:00 UTC"
        );
    }

    #[test]
    fn a_start_in_the_skipped_spring_hour_begins_after_it() {
        // Berlin skips 02:00-03:00 on Sunday 29 March 2026.
        let w = windows(
            "[[freeze]]\nname = \"nightly\"\nenvironments = [\"production\"]\nreason = \"backups\"\n\
             schedule = \"30 2 * * *\"\nduration = \"1h\"\ntime_zone = \"Europe/Berlin\"\n",
        );
        let next = next_after(&w[0], utc("2026-03-28T23:00:00Z")).unwrap();
        // 02:30 does not exist that night: 03:30 CEST, 01:30 UTC.
        assert_eq!(next.start, utc("2026-03-29T01:30:00Z"));
        // The night before it was 02:30 CET, 01:30 UTC as well, an hour later on the clock.
        assert!(occurrence_at(&w[0], utc("2026-03-28T01:45:00Z")).is_some());
    }

    #[test]
    fn holiday_dates_freeze_deploys_but_not_rollbacks_in_their_scope() {
        let w = windows(
            "[[freeze]]\nname = \"holidays\"\nenvironments = [\"production\"]\nservices = [\"shop\"]\n\
             reason = \"code freeze\"\ntime_zone = \"America/New_York\"\n\
             dates = [{ from = \"2026-12-23 18:00\", to = \"2027-01-04 08:00\" }]\n",
        );
        let env = EnvName::parse("production").unwrap();
        let shop = ServiceName::parse("shop").unwrap();
        let other = ServiceName::parse("mail").unwrap();
        // 18:00 EST is 23:00 UTC.
        let at = utc("2026-12-23T23:00:00Z");
        let (window, run) = frozen_by(&w, &env, &shop, DeployKind::Deploy, at).unwrap();
        assert_eq!(
            (window.name.as_str(), run.end),
            ("holidays", utc("2027-01-04T13:00:00Z"))
        );
        assert!(frozen_by(&w, &env, &shop, DeployKind::Promote, at).is_some());
        assert!(frozen_by(&w, &env, &shop, DeployKind::Rollback, at).is_none());
        assert!(frozen_by(&w, &env, &shop, DeployKind::Restart, at).is_none());
        assert!(frozen_by(&w, &env, &other, DeployKind::Deploy, at).is_none());
        assert!(
            frozen_by(
                &w,
                &env,
                &shop,
                DeployKind::Deploy,
                utc("2026-12-23T22:59:59Z")
            )
            .is_none()
        );
        assert_eq!(
            next_after(&w[0], utc("2026-12-01T00:00:00Z")).map(|o| o.start),
            Some(at)
        );
    }
}
