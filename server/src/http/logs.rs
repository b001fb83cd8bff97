//! Logs over HTTP: `GET /api/v1/logs/{environment}/{service}` (the logs page as JSON),
//! `.../download` (the same lines as a text file) and `.../events` (new lines as server-sent
//! events). The query string is the logs page's (`q`, `minutes`, `until`, `previous`); the
//! log service authorizes, audits and redacts.

use std::convert::Infallible;

use axum::{
    Extension, Json,
    extract::{Path, Query, State},
    http::{HeaderMap, HeaderValue, header},
    response::{
        IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
};
use flightdeck_app::{
    console::Caller,
    error::ConsoleError,
    model::{LogParams, LogsPage},
    time_format,
};
use serde::Deserialize;

use super::{AppState, api::json_error};
use crate::logs::{Cursor, FollowEvent};

/// How long a browser waits before it reconnects a follow that ended (the instance was
/// replaced by a deploy, or the console restarted), in milliseconds.
const RECONNECT_MS: u64 = 2_000;

/// The logs page for the query string, through the log service (which authorizes and audits).
async fn read(
    state: &AppState,
    caller: &Caller,
    environment: &str,
    service: &str,
    params: &LogParams,
) -> Result<LogsPage, ConsoleError> {
    let query = params.query()?;
    Ok(state.logs.page(caller, service, environment, query).await?)
}

pub async fn page(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((environment, service)): Path<(String, String)>,
    Query(params): Query<LogParams>,
) -> Response {
    match read(&state, &caller, &environment, &service, &params).await {
        Ok(page) => Json(page).into_response(),
        Err(e) => json_error(&e),
    }
}

/// The shown lines as text, one per line: time, stream, text.
pub async fn download(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((environment, service)): Path<(String, String)>,
    Query(params): Query<LogParams>,
) -> Response {
    let page = match read(&state, &caller, &environment, &service, &params).await {
        Ok(page) => page,
        Err(e) => return json_error(&e),
    };
    // Names are checked by the configuration (letters, digits, '-'), so safe in a header.
    let disposition = format!(
        "attachment; filename=\"{}-{}-logs.txt\"",
        page.service, page.environment
    );
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            ),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&disposition)
                    .unwrap_or_else(|_| HeaderValue::from_static("attachment")),
            ),
        ],
        text_of(&page),
    )
        .into_response()
}

fn text_of(page: &LogsPage) -> String {
    let mut out = String::new();
    if let Some(error) = &page.error {
        out.push_str(&format!("# {error}\n"));
    }
    for line in &page.lines {
        out.push_str(&time_format::iso8601_millis(line.at));
        out.push(' ');
        out.push_str(line.stream.as_str());
        out.push(' ');
        out.push_str(&line.text);
        out.push('\n');
    }
    out
}

#[derive(Debug, Deserialize)]
pub struct FollowParams {
    #[serde(default)]
    q: Option<String>,
    /// Where to resume (a cursor from the page or an earlier event); `Last-Event-ID` wins.
    #[serde(default)]
    after: Option<String>,
}

/// New lines as `line` events (data: the line as JSON, id: its cursor), then an `ended` event
/// saying why the stream stopped. A browser reconnects by itself with the last id.
pub async fn follow(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((environment, service)): Path<(String, String)>,
    Query(params): Query<FollowParams>,
    headers: HeaderMap,
) -> Response {
    let resume_from = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .or(params.after.as_deref())
        .filter(|s| !s.is_empty());
    let after = match resume_from.map(str::parse::<Cursor>).transpose() {
        Ok(after) => after,
        Err(message) => {
            return json_error(&ConsoleError::Invalid {
                field: "after".to_owned(),
                message,
            });
        }
    };
    let only_filter = LogParams {
        q: params.q,
        ..LogParams::default()
    };
    let filter = match only_filter.query() {
        Ok(query) => query.filter,
        Err(e) => return json_error(&e),
    };
    let events = match state
        .logs
        .follow(&caller, &service, &environment, filter, after)
        .await
    {
        Ok(events) => events,
        Err(e) => return json_error(&ConsoleError::from(e)),
    };
    let stopping = state.stopping.clone();
    let stream = futures_util::stream::unfold(Some(events), move |events| {
        let stopping = stopping.clone();
        async move {
            let mut events = events?;
            let next = tokio::select! {
                () = stopping.cancelled() => None,
                next = events.recv() => next,
            }?;
            let (event, more) = match next {
                FollowEvent::Line { line, cursor } => (
                    Event::default()
                        .event("line")
                        .id(cursor.to_string())
                        .json_data(&line)
                        .unwrap_or_default(),
                    Some(events),
                ),
                FollowEvent::Ended(why) => (
                    Event::default()
                        .event("ended")
                        .retry(std::time::Duration::from_millis(RECONNECT_MS))
                        .data(why),
                    None,
                ),
            };
            Some((Ok::<_, Infallible>(event), more))
        }
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}
