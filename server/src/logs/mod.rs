//! Reading and following a service's logs: who may, what leaves the console, and how many at
//! once. The backends read the lines (`Backend::logs`, `Backend::follow_logs`); this module
//! authorizes and audits every read, masks secrets ([`redact`]) before filtering (so a filter
//! cannot probe a secret's value), and bounds live follows per console and per person, each
//! with a bounded buffer: a reader too slow to keep up is cut off, never allowed to grow memory.

pub mod cursor;
pub mod redact;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use flightdeck_app::{
    console::Caller,
    model::{Action, EnvName, LOG_PAGE_LINES, LogLine, LogQuery, LogsPage, ServiceName, Timestamp},
};
use futures_util::StreamExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

use crate::{
    auth::AuthService,
    backend::{Backend, BackendError, LogFollow, LogRequest},
    clock::Clock,
    config::{Config, Target},
    error::AppError,
    store::Outcome,
};

pub use cursor::{Cursor, Resume};
pub use redact::Redactor;

/// Lines read from the backend when a filter is set: the filter runs here, after redaction,
/// over at most this many of the newest lines of the range.
pub const SCAN_LINES: usize = 20_000;

/// Lines a follow holds for its reader. A reader this far behind is cut off.
pub const FOLLOW_BUFFER: usize = 1_000;

/// What a follow sends its reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FollowEvent {
    Line {
        line: LogLine,
        cursor: Cursor,
    },
    /// The follow ended, and why ("the container stopped", "you read too slowly").
    Ended(String),
}

pub struct LogService {
    config: Arc<Config>,
    backends: HashMap<EnvName, Arc<dyn Backend>>,
    auth: Arc<AuthService>,
    clock: Arc<dyn Clock>,
    redactor: Redactor,
    /// One permit per live follow on this console.
    follows: Arc<Semaphore>,
    /// Live follows per person.
    per_person: Arc<Mutex<HashMap<String, usize>>>,
}

impl LogService {
    pub fn new(
        config: Arc<Config>,
        backends: HashMap<EnvName, Arc<dyn Backend>>,
        auth: Arc<AuthService>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            redactor: Redactor::new(config.logs.redact.iter().map(|p| p.0.clone())),
            follows: Arc::new(Semaphore::new(config.logs.max_follows)),
            per_person: Arc::default(),
            config,
            backends,
            auth,
            clock,
        }
    }

    /// The newest lines of the query's range, redacted and filtered, as the logs page shows
    /// them. A backend that cannot be read gives a page that says why.
    pub async fn page(
        &self,
        caller: &Caller,
        service: &str,
        environment: &str,
        query: LogQuery,
    ) -> Result<LogsPage, AppError> {
        let (env, service, target) = self.target(service, environment)?;
        self.allow(caller, &env, &service).await?;
        let backend = self.backend(&env)?;
        let now = self.clock.now();
        let until = query.until.filter(|u| *u < now);
        let request = LogRequest {
            since: query.minutes.map(|m| {
                let end = until.unwrap_or(now);
                Timestamp::from_unix_millis(end.unix_millis() - i64::from(m) * 60_000)
            }),
            until,
            tail: if query.filter.is_empty() {
                LOG_PAGE_LINES
            } else {
                SCAN_LINES
            },
            previous: query.previous,
        };
        let mut source = target.kind.label().to_owned();
        let (lines, more, cursor, error) = match backend.logs(&target.kind, &request).await {
            Ok(read) => {
                source = read.source;
                // The backend stopped at its limit: the range holds older lines too.
                let cut = read.lines.len() >= request.tail;
                // Behind the last line read, matching or not: the follow goes on from there.
                let cursor = Cursor::after(&read.lines, now);
                let lines = self.shown(read.lines, &query.filter);
                let more = cut || lines.len() > LOG_PAGE_LINES;
                let skip = lines.len().saturating_sub(LOG_PAGE_LINES);
                (lines.into_iter().skip(skip).collect(), more, cursor, None)
            }
            Err(e) => (
                Vec::new(),
                false,
                Cursor::at(now),
                Some(source_error(backend.as_ref(), &e)),
            ),
        };
        let details = format!(
            "{}; {} lines{}",
            query.describe(),
            lines.len(),
            error
                .as_deref()
                .map(|e| format!("; failed: {e}"))
                .unwrap_or_default()
        );
        self.audit(caller, "logs.read", &env, &service, details)
            .await?;
        Ok(LogsPage {
            service,
            environment: env,
            source,
            query,
            lines,
            more,
            error,
            cursor: cursor.to_string(),
        })
    }

    /// Follows the running instance from `after` on: lines as they are written, redacted and
    /// filtered, through a buffer of [`FOLLOW_BUFFER`]. Refused beyond the console's and the
    /// person's number of follows; the permits go back when the receiver is dropped.
    pub async fn follow(
        &self,
        caller: &Caller,
        service: &str,
        environment: &str,
        filter: String,
        after: Option<Cursor>,
    ) -> Result<mpsc::Receiver<FollowEvent>, AppError> {
        let (env, service, target) = self.target(service, environment)?;
        self.allow(caller, &env, &service).await?;
        let backend = self.backend(&env)?;
        let slot = self.take_slot(&caller.person)?;
        let now = self.clock.now();
        let after = after.unwrap_or_else(|| Cursor::at(now));
        let details = if filter.is_empty() {
            "follow".to_owned()
        } else {
            format!("follow, containing “{filter}”")
        };
        self.audit(caller, "logs.follow", &env, &service, details)
            .await?;
        let lines = backend
            .follow_logs(&target.kind, after.since())
            .await
            .map_err(|e| AppError::Unavailable(source_error(backend.as_ref(), &e)))?;
        // One place more than the lines it may hold: the last word always fits.
        let (tx, rx) = mpsc::channel(FOLLOW_BUFFER + 1);
        let redactor = self.redactor.clone();
        tokio::spawn(async move {
            let _slot = slot;
            pump(lines, after, &redactor, &filter, &tx).await;
        });
        Ok(rx)
    }

    /// Redacts, then filters (case-insensitively).
    fn shown(&self, lines: Vec<LogLine>, filter: &str) -> Vec<LogLine> {
        let filter = filter.to_lowercase();
        lines
            .into_iter()
            .filter_map(|l| redacted(&self.redactor, l, &filter))
            .collect()
    }

    fn target(
        &self,
        service: &str,
        environment: &str,
    ) -> Result<(EnvName, ServiceName, &Target), AppError> {
        let found = self.config.service(service).ok_or_else(|| {
            AppError::NotFound(format!(
                "There is no service named “{service}” in the configuration."
            ))
        })?;
        let env = EnvName::parse(environment)
            .ok()
            .filter(|e| self.config.environment(e).is_some())
            .ok_or_else(|| {
                AppError::NotFound(format!(
                    "There is no environment named “{environment}” in the configuration."
                ))
            })?;
        let target = found
            .targets
            .get(&env)
            .ok_or_else(|| AppError::NotFound(format!("{} does not run in {env}.", found.name)))?;
        Ok((env, found.name.clone(), target))
    }

    fn backend(&self, env: &EnvName) -> Result<Arc<dyn Backend>, AppError> {
        self.backends
            .get(env)
            .cloned()
            .ok_or_else(|| AppError::NotFound(format!("no backend for {env}")))
    }

    /// Logs often hold customer data: deployers read them, and viewers only where the
    /// environment says `logs_for_viewers`. A refusal is audited.
    async fn allow(
        &self,
        caller: &Caller,
        env: &EnvName,
        service: &ServiceName,
    ) -> Result<(), AppError> {
        let open = self
            .config
            .environment(env)
            .is_some_and(|e| e.logs_for_viewers);
        let action = if open { Action::View } else { Action::ReadLogs };
        self.auth
            .allow_in(caller, action, "logs.read", service.as_str(), env.as_str())
            .await
    }

    async fn audit(
        &self,
        caller: &Caller,
        action: &str,
        env: &EnvName,
        service: &ServiceName,
        details: String,
    ) -> Result<(), AppError> {
        self.auth
            .audit_action(
                caller,
                action,
                service.as_str(),
                env.as_str(),
                Outcome::Success,
                details,
            )
            .await
    }

    /// A place among the console's and the person's follows, or a refusal that says which
    /// limit was reached.
    fn take_slot(&self, person: &str) -> Result<FollowSlot, AppError> {
        let permit = self.follows.clone().try_acquire_owned().map_err(|_| {
            AppError::Unavailable(format!(
                "{} logs are being followed on this console, the most it allows \
                 ([logs] max_follows); close a logs view or try again later",
                self.config.logs.max_follows
            ))
        })?;
        let mut open = self.per_person.lock().unwrap_or_else(|e| e.into_inner());
        let mine = open.entry(person.to_owned()).or_default();
        if *mine >= self.config.logs.max_follows_per_person {
            return Err(AppError::Unavailable(format!(
                "you follow {mine} logs already, the most one person may ([logs] \
                 max_follows_per_person); close one of those views first"
            )));
        }
        *mine += 1;
        Ok(FollowSlot {
            _permit: permit,
            person: person.to_owned(),
            open: self.per_person.clone(),
        })
    }
}

/// A follow's place, given back when the follow ends.
struct FollowSlot {
    _permit: OwnedSemaphorePermit,
    person: String,
    open: Arc<Mutex<HashMap<String, usize>>>,
}

impl Drop for FollowSlot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.person) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.person);
            }
        }
    }
}

/// Moves a follow's lines from the backend to its reader, redacted and filtered, until one of
/// them stops: the reader leaves (even while the service is quiet), the backend's stream ends
/// or fails, or the reader falls [`FOLLOW_BUFFER`] lines behind. `tx` has one place more than
/// that, so the reason the follow ended always fits; nothing here ever waits for the reader.
async fn pump(
    mut lines: LogFollow,
    after: Cursor,
    redactor: &Redactor,
    filter: &str,
    tx: &mpsc::Sender<FollowEvent>,
) {
    let filter = filter.to_lowercase();
    let mut resume = Resume::from(after);
    let ended = loop {
        let next = tokio::select! {
            next = lines.next() => next,
            () = tx.closed() => return,
        };
        let Some(next) = next else {
            break "the instance stopped writing (it stopped or was replaced); following again"
                .to_owned();
        };
        let line = match next {
            Ok(line) => line,
            Err(e) => break e.to_string(),
        };
        let Some(cursor) = resume.next(&line) else {
            continue;
        };
        let Some(line) = redacted(redactor, line, &filter) else {
            continue;
        };
        if tx.capacity() <= 1 {
            break format!(
                "this view fell {FOLLOW_BUFFER} lines behind (the connection is too slow for \
                 this service's logs); it goes on from where it was"
            );
        }
        if tx.try_send(FollowEvent::Line { line, cursor }).is_err() {
            // The reader left.
            return;
        }
    };
    let _ = tx.try_send(FollowEvent::Ended(ended));
}

/// `line` with its secrets masked, when it contains `filter` (lower case; empty: every line).
fn redacted(redactor: &Redactor, mut line: LogLine, filter: &str) -> Option<LogLine> {
    line.text = redactor.redact(&line.text);
    (filter.is_empty() || line.text.to_lowercase().contains(filter)).then_some(line)
}

/// Which source failed and why, for the page: "Docker Engine at unix:///…: container … does
/// not exist".
fn source_error(backend: &dyn Backend, e: &BackendError) -> String {
    format!("{}: {e}", backend.describe())
}

#[cfg(test)]
mod tests {
    use flightdeck_app::model::LogStream;

    use super::*;

    fn line(text: &str) -> LogLine {
        LogLine {
            at: Timestamp::from_unix_millis(1),
            stream: LogStream::Stdout,
            text: text.to_owned(),
        }
    }

    #[test]
    fn a_filter_never_sees_a_masked_secret() {
        let r = Redactor::new([]);
        let secret = line("login password=hunter2 ok");
        assert_eq!(redacted(&r, secret.clone(), "hunter2"), None);
        let shown = redacted(&r, secret, "login").unwrap();
        assert_eq!(shown.text, "login password=[redacted] ok");
    }

    fn numbered(n: i64) -> Result<LogLine, BackendError> {
        Ok(LogLine {
            at: Timestamp::from_unix_millis(n),
            stream: LogStream::Stdout,
            text: format!("line {n} password=p{n}"),
        })
    }

    #[tokio::test]
    async fn a_reader_that_falls_behind_is_cut_off_with_a_message_instead_of_buffered() {
        let written: Vec<_> = (1..=2_000).map(numbered).collect();
        let (tx, mut rx) = mpsc::channel(FOLLOW_BUFFER + 1);
        // Nobody reads while the lines come: the pump stops by itself.
        let start = Cursor::at(Timestamp::from_unix_millis(0));
        let redactor = Redactor::new([]);
        pump(
            Box::pin(futures_util::stream::iter(written)),
            start,
            &redactor,
            "",
            &tx,
        )
        .await;
        drop(tx);
        let mut lines = Vec::new();
        let mut ended = None;
        while let Some(event) = rx.recv().await {
            match event {
                FollowEvent::Line { line, .. } => lines.push(line.text),
                FollowEvent::Ended(why) => ended = Some(why),
            }
        }
        assert_eq!(lines.len(), FOLLOW_BUFFER);
        assert_eq!(lines[0], "line 1 password=[redacted]");
        let why = ended.expect("the reader is told why the follow stopped");
        assert!(
            why.contains(&format!("fell {FOLLOW_BUFFER} lines behind")),
            "{why}"
        );
    }

    #[tokio::test]
    async fn a_follow_of_a_quiet_service_ends_as_soon_as_its_reader_leaves() {
        let (tx, rx) = mpsc::channel(FOLLOW_BUFFER + 1);
        drop(rx);
        // A backend that never writes again: only the reader's leaving can end this. The
        // timeout only keeps a broken pump from hanging the suite.
        let redactor = Redactor::new([]);
        let pumped = pump(
            Box::pin(futures_util::stream::pending()),
            Cursor::at(Timestamp::from_unix_millis(0)),
            &redactor,
            "",
            &tx,
        );
        tokio::time::timeout(std::time::Duration::from_secs(10), pumped)
            .await
            .expect("the follow ended when its reader left");
    }

    #[test]
    fn the_filter_ignores_case() {
        let r = Redactor::new([]);
        assert!(redacted(&r, line("Connection TIMEOUT after 3 s"), "timeout").is_some());
        assert!(redacted(&r, line("all good"), "timeout").is_none());
    }
}
