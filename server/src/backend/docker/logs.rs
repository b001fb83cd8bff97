//! A container's logs through the engine's logs endpoint: both outputs, with the engine's
//! timestamps, as lines.

use bollard::{container::LogOutput, query_parameters::LogsOptionsBuilder};
use flightdeck_app::model::{LogLine, LogStream, Timestamp};
use futures_util::StreamExt;

use super::deploy::DockerBackend;
use crate::backend::{Backend, BackendError, LogBatch, LogFollow, LogRequest, parse_rfc3339};

impl DockerBackend {
    /// The container to read: the running one, or the newest previous one kept by a deploy.
    async fn log_source(&self, name: &str, previous: bool) -> Result<String, BackendError> {
        if !previous {
            return Ok(name.to_owned());
        }
        let client = self.client().await?;
        self.kept(&client, name)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| {
                BackendError::NotFound(format!(
                    "no previous container of {name} is kept on the {} (one is kept after each \
                 deploy)",
                    self.describe()
                ))
            })
    }

    pub(super) async fn read_logs(
        &self,
        name: &str,
        request: &LogRequest,
    ) -> Result<LogBatch, BackendError> {
        let source = self.log_source(name, request.previous).await?;
        let client = self.client().await?;
        let mut options = LogsOptionsBuilder::new()
            .stdout(true)
            .stderr(true)
            .timestamps(true)
            .tail(&request.tail.to_string());
        if let Some(since) = request.since {
            options = options.since(engine_seconds(since));
        }
        if let Some(until) = request.until {
            // The engine's bound is whole seconds: one more, and the exact end is cut below.
            options = options.until(engine_seconds(until).saturating_add(1));
        }
        let mut frames = client.logs(&source, Some(options.build()));
        let mut lines = Vec::new();
        while let Some(frame) = frames.next().await {
            let frame = frame.map_err(|e| self.log_error(&source, &e))?;
            lines.extend(
                lines_of(&frame)
                    .into_iter()
                    .filter(|l| request.since.is_none_or(|s| l.at >= s))
                    .filter(|l| request.until.is_none_or(|u| l.at <= u)),
            );
        }
        Ok(LogBatch { source, lines })
    }

    pub(super) async fn follow(
        &self,
        name: &str,
        since: Timestamp,
    ) -> Result<LogFollow, BackendError> {
        let client = self.client().await?;
        // Fails now, naming the container, when it is not there.
        self.existing(&client, name).await?;
        let options = LogsOptionsBuilder::new()
            .stdout(true)
            .stderr(true)
            .timestamps(true)
            .follow(true)
            .since(engine_seconds(since))
            .build();
        let host = self.host().to_owned();
        let source = name.to_owned();
        let lines = client
            .logs(name, Some(options))
            .flat_map(move |frame| {
                let lines: Vec<Result<LogLine, BackendError>> = match frame {
                    Ok(frame) => lines_of(&frame).into_iter().map(Ok).collect(),
                    Err(e) => vec![Err(BackendError::Unreachable(format!(
                        "reading the logs of {source} from the Docker Engine at {host}: {e}"
                    )))],
                };
                futures_util::stream::iter(lines)
            })
            // Whole seconds above: the lines of that second before `since` were seen already.
            .filter(move |line| {
                let keep = line.as_ref().map_or(true, |l| l.at >= since);
                async move { keep }
            });
        Ok(Box::pin(lines))
    }

    fn log_error(&self, source: &str, e: &bollard::errors::Error) -> BackendError {
        if super::is_not_found(e) {
            return BackendError::NotFound(format!(
                "container {source} does not exist on the {}",
                self.describe()
            ));
        }
        self.failed(&format!("cannot read the logs of {source}"), e)
    }
}

/// Seconds since the epoch, as the engine's `since` and `until` take them.
fn engine_seconds(at: Timestamp) -> i32 {
    i32::try_from(at.unix_millis().div_euclid(1000)).unwrap_or(i32::MAX)
}

/// The lines of one frame of the engine's answer. With `timestamps`, every line the engine
/// stored starts with its RFC 3339 time and a space; a frame normally holds one line, but a
/// line the program wrote in pieces may arrive as several, so every line is parsed alike. A
/// line without a time (a TTY container's raw output) gets the time of the line before it.
pub fn lines_of(frame: &LogOutput) -> Vec<LogLine> {
    let (stream, bytes) = match frame {
        LogOutput::StdErr { message } => (LogStream::Stderr, message),
        LogOutput::StdOut { message } | LogOutput::Console { message } => {
            (LogStream::Stdout, message)
        }
        LogOutput::StdIn { .. } => return Vec::new(),
    };
    let text = String::from_utf8_lossy(bytes);
    let mut last = Timestamp::from_unix_millis(0);
    text.split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (at, text) = match l
                .split_once(' ')
                .and_then(|(t, rest)| parse_rfc3339(t).map(|at| (at, rest)))
            {
                Some((at, rest)) => (at, rest),
                None => (last, l),
            };
            last = at;
            LogLine {
                at,
                stream,
                text: text.to_owned(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stderr(text: &str) -> LogOutput {
        LogOutput::StdErr {
            message: text.to_owned().into(),
        }
    }

    #[test]
    fn a_frame_is_split_into_timed_lines_of_its_stream() {
        let lines = lines_of(&stderr(
            "2026-11-30T10:00:00.123456789Z first line\n2026-11-30T10:00:01.5Z second\r\n",
        ));
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].text, "first line");
        assert_eq!(lines[0].stream, LogStream::Stderr);
        assert_eq!(lines[0].at.unix_millis() % 1000, 123);
        assert_eq!(lines[1].text, "second");
        assert_eq!(lines[1].at.unix_millis() - lines[0].at.unix_millis(), 1377);
    }

    #[test]
    fn a_line_without_a_time_keeps_the_one_before_and_its_text_whole() {
        let lines = lines_of(&LogOutput::StdOut {
            message: "2026-11-30T10:00:00Z a b c\ncontinued here\n"
                .to_owned()
                .into(),
        });
        assert_eq!(lines[1].text, "continued here");
        assert_eq!(lines[1].at, lines[0].at);
        assert_eq!(lines[1].stream, LogStream::Stdout);
        assert_eq!(lines[0].text, "a b c");
    }
}
