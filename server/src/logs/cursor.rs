//! Where a follow resumes. Lines carry the backend's time in milliseconds, and several lines
//! can share one; a cursor is the time of the last line delivered and how many lines of that
//! very millisecond came before it, so a reconnect (`Last-Event-ID`, or a tab shown again)
//! repeats none and skips none. Written as `MILLIS-COUNT` in the events' ids.

use std::{fmt, str::FromStr};

use flightdeck_app::model::{LogLine, Timestamp};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    at: Timestamp,
    /// Lines at `at` the reader has.
    seen: u32,
}

impl Cursor {
    /// Every line from `at` on.
    pub fn at(at: Timestamp) -> Self {
        Self { at, seen: 0 }
    }

    /// After the last of `lines` (oldest first, as the backend gave them), or from `now` when
    /// there are none.
    pub fn after(lines: &[LogLine], now: Timestamp) -> Self {
        let Some(last) = lines.last() else {
            return Self::at(now);
        };
        let seen = lines.iter().rev().take_while(|l| l.at == last.at).count();
        Self {
            at: last.at,
            seen: u32::try_from(seen).unwrap_or(u32::MAX),
        }
    }

    /// Where the backend is asked to start; [`Resume`] skips what the reader has.
    pub fn since(self) -> Timestamp {
        self.at
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.at.unix_millis(), self.seen)
    }
}

impl FromStr for Cursor {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("“{s}” is not a log position (MILLIS-COUNT)");
        let (at, seen) = s.split_once('-').ok_or_else(bad)?;
        Ok(Self {
            at: Timestamp::from_unix_millis(at.parse().map_err(|_| bad())?),
            seen: seen.parse().map_err(|_| bad())?,
        })
    }
}

/// Reads a backend's lines, in order, from a cursor on: skips what the reader has and says
/// the cursor of each new line.
#[derive(Debug, Clone)]
pub struct Resume {
    start: Timestamp,
    skip: u32,
    position: Cursor,
}

impl Resume {
    pub fn from(cursor: Cursor) -> Self {
        Self {
            start: cursor.at,
            skip: cursor.seen,
            position: cursor,
        }
    }

    /// The cursor after `line` when it is new to the reader; `None` when the reader has it.
    pub fn next(&mut self, line: &LogLine) -> Option<Cursor> {
        if line.at < self.start {
            return None;
        }
        if line.at == self.start && self.skip > 0 {
            self.skip -= 1;
            return None;
        }
        self.position = if line.at == self.position.at {
            Cursor {
                at: line.at,
                seen: self.position.seen.saturating_add(1),
            }
        } else {
            Cursor {
                at: line.at,
                seen: 1,
            }
        };
        Some(self.position)
    }
}

#[cfg(test)]
mod tests {
    use flightdeck_app::model::LogStream;

    use super::*;

    fn line(ms: i64, text: &str) -> LogLine {
        LogLine {
            at: Timestamp::from_unix_millis(ms),
            stream: LogStream::Stdout,
            text: text.to_owned(),
        }
    }

    /// What a reader that resumes at `cursor` gets of `lines`.
    fn resumed(cursor: Cursor, lines: &[LogLine]) -> Vec<String> {
        let mut resume = Resume::from(cursor);
        lines
            .iter()
            .filter(|l| resume.next(l).is_some())
            .map(|l| l.text.clone())
            .collect()
    }

    #[test]
    fn a_reconnect_repeats_nothing_and_skips_nothing_within_one_millisecond() {
        let all = [
            line(1_000, "a"),
            line(2_000, "b1"),
            line(2_000, "b2"),
            line(2_000, "b3"),
            line(3_000, "c"),
        ];
        // The reader had a, b1 and b2 when its connection dropped.
        let mut resume = Resume::from(Cursor::at(Timestamp::from_unix_millis(0)));
        let cursors: Vec<Cursor> = all.iter().filter_map(|l| resume.next(l)).collect();
        let had = cursors[2];
        assert_eq!(had.to_string(), "2000-2");
        // The backend starts again at the cursor's time and gives those lines again.
        assert_eq!(resumed(had, &all[1..]), ["b3", "c"]);
        assert_eq!(
            resumed(had.to_string().parse().unwrap(), &all[1..]),
            ["b3", "c"]
        );
    }

    #[test]
    fn after_a_page_the_follow_starts_behind_its_last_line() {
        let page = [line(5, "x"), line(7, "y1"), line(7, "y2")];
        let cursor = Cursor::after(&page, Timestamp::from_unix_millis(100));
        assert_eq!(cursor.to_string(), "7-2");
        assert_eq!(
            resumed(
                cursor,
                &[line(7, "y1"), line(7, "y2"), line(7, "y3"), line(9, "z")]
            ),
            ["y3", "z"]
        );
        // An empty page follows from the moment it was read.
        assert_eq!(
            Cursor::after(&[], Timestamp::from_unix_millis(100)).to_string(),
            "100-0"
        );
    }

    #[test]
    fn a_position_that_is_not_one_is_refused() {
        assert!("12".parse::<Cursor>().is_err());
        assert!("x-1".parse::<Cursor>().is_err());
    }
}
