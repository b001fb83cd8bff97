//! Logs: what a service wrote in one environment, as the logs page and its live stream show it.
//! Every line has been redacted by the server before it got here.

use serde::{Deserialize, Serialize};

use super::{EnvName, ServiceName, Timestamp};
use crate::error::ConsoleError;

/// Lines a logs page shows at once: the newest of the range.
pub const LOG_PAGE_LINES: usize = 500;

/// The ranges a reader picks from, in minutes; `None` in a query means "any time".
pub const LOG_RANGES: [(u32, &str); 5] = [
    (15, "Last 15 minutes"),
    (60, "Last hour"),
    (360, "Last 6 hours"),
    (1440, "Last 24 hours"),
    (10_080, "Last 7 days"),
];

/// Which of the program's outputs a line was written to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogStream {
    Stdout,
    Stderr,
}

impl LogStream {
    pub fn as_str(self) -> &'static str {
        match self {
            LogStream::Stdout => "stdout",
            LogStream::Stderr => "stderr",
        }
    }
}

/// One line, as written (secrets masked).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    pub at: Timestamp,
    pub stream: LogStream,
    pub text: String,
}

/// What a reader asks for. It comes from the page's query string, so the filter works before
/// the wasm bundle loads and a link to a filtered view can be shared in the team's chat.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogQuery {
    /// Text the lines must contain, ignoring case; empty: every line.
    #[serde(default)]
    pub filter: String,
    /// Only the last this many minutes (before `until`); `None`: any time.
    #[serde(default)]
    pub minutes: Option<u32>,
    /// Lines up to this moment; `None`: up to now, and the view follows new lines.
    #[serde(default)]
    pub until: Option<Timestamp>,
    /// The instance the last deploy replaced (Docker keeps it) instead of the running one.
    #[serde(default)]
    pub previous: bool,
}

impl LogQuery {
    /// The range in words, for the page and the audit log: "last hour, containing “timeout”".
    pub fn describe(&self) -> String {
        let range = match self.minutes {
            Some(m) => LOG_RANGES
                .iter()
                .find(|(minutes, _)| *minutes == m)
                .map_or_else(
                    || format!("last {m} minutes"),
                    |(_, label)| label.to_lowercase(),
                ),
            None => "any time".to_owned(),
        };
        let mut text = range;
        if let Some(until) = self.until {
            text.push_str(&format!(" until {}", crate::time_format::utc(until)));
        }
        if self.previous {
            text.push_str(", previous instance");
        }
        if !self.filter.is_empty() {
            text.push_str(&format!(", containing “{}”", self.filter));
        }
        text
    }
}

/// The logs page's query string as typed (`?q=timeout&minutes=60&until=…&previous=1`), read
/// the same way by the page and the HTTP API.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogParams {
    #[serde(default)]
    pub q: Option<String>,
    #[serde(default)]
    pub minutes: Option<String>,
    #[serde(default)]
    pub until: Option<String>,
    #[serde(default)]
    pub previous: Option<String>,
}

/// The longest filter accepted.
pub const MAX_FILTER_CHARS: usize = 200;
/// The longest range accepted, in minutes (30 days).
pub const MAX_RANGE_MINUTES: u32 = 43_200;

impl LogParams {
    /// The query, or the field that is wrong and why.
    pub fn query(&self) -> Result<LogQuery, ConsoleError> {
        let invalid = |field: &str, message: String| ConsoleError::Invalid {
            field: field.to_owned(),
            message,
        };
        fn given(v: &Option<String>) -> Option<&str> {
            v.as_deref().map(str::trim).filter(|v| !v.is_empty())
        }
        let filter = given(&self.q).unwrap_or_default().to_owned();
        if filter.chars().count() > MAX_FILTER_CHARS {
            return Err(invalid(
                "q",
                format!("the filter is longer than {MAX_FILTER_CHARS} characters"),
            ));
        }
        let minutes = match given(&self.minutes) {
            None => None,
            Some(m) => match m.parse::<u32>() {
                Ok(m @ 1..=MAX_RANGE_MINUTES) => Some(m),
                _ => {
                    return Err(invalid(
                        "minutes",
                        format!("must be a whole number of minutes from 1 to {MAX_RANGE_MINUTES}"),
                    ));
                }
            },
        };
        let until = match given(&self.until) {
            None => None,
            Some(u) => Some(crate::time_format::parse_datetime_local(u).ok_or_else(|| {
                invalid(
                    "until",
                    "must be a date and time in UTC, like 2026-11-30T14:05".to_owned(),
                )
            })?),
        };
        let previous = matches!(given(&self.previous), Some("1" | "true" | "on" | "yes"));
        Ok(LogQuery {
            filter,
            minutes,
            until,
            previous,
        })
    }

    /// The query string that asks for `query` (without the leading `?`).
    pub fn of(query: &LogQuery) -> String {
        let mut parts = Vec::new();
        if !query.filter.is_empty() {
            parts.push(format!("q={}", super::encode_query_value(&query.filter)));
        }
        if let Some(m) = query.minutes {
            parts.push(format!("minutes={m}"));
        }
        if let Some(u) = query.until {
            parts.push(format!(
                "until={}",
                super::encode_query_value(&crate::time_format::datetime_local(u))
            ));
        }
        if query.previous {
            parts.push("previous=1".to_owned());
        }
        parts.join("&")
    }
}

/// The logs page of one service in one environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogsPage {
    pub service: ServiceName,
    pub environment: EnvName,
    /// The container or ECS service read.
    pub source: String,
    pub query: LogQuery,
    /// Oldest first: the newest [`LOG_PAGE_LINES`] lines of the range that match.
    pub lines: Vec<LogLine>,
    /// The range holds older lines than those read (the newest are shown).
    pub more: bool,
    /// Why the lines could not be read ("Docker Engine at …: no such container"), in place of
    /// lines.
    pub error: Option<String>,
    /// Where the live stream resumes: after the last line shown.
    pub cursor: String,
}
