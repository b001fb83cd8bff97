//! Cron-like schedules for freeze windows: five fields, `minute hour day-of-month month
//! day-of-week`, each `*`, a number, a range `a-b`, a step `*/n` or `a-b/n`, or a list of
//! those; days of the week 0-7 (0 and 7 are Sunday) or `mon`…`sun`, months 1-12 or
//! `jan`…`dec`. `0 16 * * fri` is every Friday at 16:00. As in cron, when both day fields are
//! restricted a day matching either counts.

/// The times a schedule matches, one bit per allowed value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    minutes: u64,
    hours: u32,
    /// Bits 1-31.
    days: u32,
    /// Bits 1-12.
    months: u16,
    /// Bits 0-6, Sunday first.
    weekdays: u8,
    days_restricted: bool,
    weekdays_restricted: bool,
}

const WEEKDAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

/// One field's allowed values as a bit set, `min..=max`; `names` map to `min + index`.
fn field(text: &str, what: &str, min: u32, max: u32, names: &[&str]) -> Result<u64, String> {
    let value = |s: &str| -> Result<u32, String> {
        let lower = s.to_ascii_lowercase();
        if let Some(i) = names.iter().position(|n| *n == lower) {
            return Ok(min + u32::try_from(i).unwrap_or(0));
        }
        let n: u32 = s
            .parse()
            .map_err(|_| format!("{what}: `{s}` is not a number from {min} to {max}"))?;
        if (min..=max).contains(&n) {
            Ok(n)
        } else {
            Err(format!("{what}: {n} is not from {min} to {max}"))
        }
    };
    let mut bits = 0u64;
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => {
                let step: u32 = step
                    .parse()
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| format!("{what}: `/{step}` is not a step above 0"))?;
                (range, step)
            }
            None => (part, 1),
        };
        let (from, to) = match range {
            "*" => (min, max),
            r => match r.split_once('-') {
                Some((a, b)) => (value(a)?, value(b)?),
                None if step > 1 => (value(r)?, max),
                None => {
                    let v = value(r)?;
                    (v, v)
                }
            },
        };
        if from > to {
            return Err(format!("{what}: `{range}` runs backwards"));
        }
        let mut v = from;
        while v <= to {
            bits |= 1 << v;
            v += step;
        }
    }
    Ok(bits)
}

impl Schedule {
    pub fn parse(text: &str) -> Result<Self, String> {
        let fields: Vec<&str> = text.split_whitespace().collect();
        let [minute, hour, day, month, weekday] = fields[..] else {
            return Err(format!(
                "`{text}` has {} fields; write five: minute hour day-of-month month \
                 day-of-week (e.g. \"0 16 * * fri\")",
                fields.len()
            ));
        };
        let weekdays = field(weekday, "day of week", 0, 7, &WEEKDAYS)?;
        // 7 is Sunday too.
        let weekdays = (weekdays | (weekdays >> 7)) & 0x7f;
        Ok(Self {
            minutes: field(minute, "minute", 0, 59, &[])?,
            hours: u32::try_from(field(hour, "hour", 0, 23, &[])?).unwrap_or(0),
            days: u32::try_from(field(day, "day of month", 1, 31, &[])?).unwrap_or(0),
            months: u16::try_from(field(month, "month", 1, 12, &MONTHS)?).unwrap_or(0),
            weekdays: u8::try_from(weekdays).unwrap_or(0),
            days_restricted: day != "*",
            weekdays_restricted: weekday != "*",
        })
    }

    /// Whether the schedule fires on a day: `month` 1-12, `day` 1-31, `weekday` 0-6 (Sunday 0).
    pub fn on_day(&self, month: u32, day: u32, weekday: u32) -> bool {
        if self.months & (1 << month) == 0 {
            return false;
        }
        let by_day = self.days & (1 << day) != 0;
        let by_weekday = self.weekdays & (1 << weekday) != 0;
        match (self.days_restricted, self.weekdays_restricted) {
            (true, true) => by_day || by_weekday,
            _ => by_day && by_weekday,
        }
    }

    /// The (hour, minute) pairs of a day it fires on, earliest first.
    pub fn times(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        (0..24)
            .filter(|h| self.hours & (1 << h) != 0)
            .flat_map(move |h| {
                (0..60)
                    .filter(move |m| self.minutes & (1u64 << m) != 0)
                    .map(move |m| (h, m))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_read_like_cron() {
        let s = Schedule::parse("0 16 * * fri").unwrap();
        assert_eq!(s.times().collect::<Vec<_>>(), [(16, 0)]);
        assert!(s.on_day(11, 27, 5));
        assert!(!s.on_day(11, 28, 6));
        let s = Schedule::parse("*/30 9-10 * * 1-5").unwrap();
        assert_eq!(
            s.times().collect::<Vec<_>>(),
            [(9, 0), (9, 30), (10, 0), (10, 30)]
        );
        assert!(
            Schedule::parse("0 0 * * 7").unwrap().on_day(1, 4, 0),
            "7 is Sunday"
        );
        // Both day fields restricted: either matches.
        let s = Schedule::parse("0 0 1 * mon").unwrap();
        assert!(s.on_day(12, 1, 2) && s.on_day(12, 7, 1) && !s.on_day(12, 8, 2));
        assert!(Schedule::parse("0 0 24 dec *").unwrap().on_day(12, 24, 4));
    }

    #[test]
    fn a_bad_schedule_says_which_field_and_why() {
        assert_eq!(
            Schedule::parse("0 16 * *").unwrap_err(),
            "`0 16 * *` has 4 fields; write five: minute hour day-of-month month day-of-week \
             (e.g. \"0 16 * * fri\")"
        );
        assert_eq!(
            Schedule::parse("0 25 * * *").unwrap_err(),
            "hour: 25 is not from 0 to 23"
        );
        assert_eq!(
            Schedule::parse("0 16 * * friday").unwrap_err(),
            "day of week: `friday` is not a number from 0 to 7"
        );
        assert_eq!(
            Schedule::parse("0 9-5 * * *").unwrap_err(),
            "hour: `9-5` runs backwards"
        );
        assert_eq!(
            Schedule::parse("*/0 * * * *").unwrap_err(),
            "minute: `/0` is not a step above 0"
        );
    }
}
