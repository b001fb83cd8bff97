//! `GET /api/v1/deployments/{id}/events`: one deploy as server-sent events, for its page.
//!
//! Each `deployment` event carries the whole deploy (state, reason, every step so far) as the
//! JSON of `GET /api/v1/deployments/{id}`, so a page that connects late or reconnects after a
//! dropped link (EventSource does that by itself) is complete with its first event. A new
//! event is sent when a step was recorded; the stream ends after the event that shows the
//! deploy ended, and when the server shuts down. The store stays the one truth: the engine's
//! signal only says "look again".

use std::{convert::Infallible, time::Duration};

use axum::{
    Extension,
    extract::{Path, State},
    response::{
        IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
};
use flightdeck_app::{console::Caller, model::DeploymentView};

use super::{AppState, api::json_error};

/// Looked at again this often even without a signal: a deploy run by another console on the
/// same database records its steps there without telling this one.
const RECHECK: Duration = Duration::from_secs(1);

pub async fn stream(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<i64>,
) -> Response {
    // Authorization and "no such deploy" answer as the rest of the API does, before streaming.
    let first = match state.console.deployment_progress(&caller, id).await {
        Ok(view) => view,
        Err(e) => return json_error(&e),
    };
    let mut changes = state.deploy_changes.clone();
    // Only changes from now on wake this stream.
    changes.borrow_and_update();
    let follow = Follow {
        state,
        caller,
        id,
        changes,
        pending: Some(first),
        last_sent: None,
        ended: false,
    };
    Sse::new(futures_util::stream::unfold(follow, next_event))
        .keep_alive(KeepAlive::default())
        .into_response()
}

struct Follow {
    state: AppState,
    caller: Caller,
    id: i64,
    changes: tokio::sync::watch::Receiver<u64>,
    /// Read but not yet sent.
    pending: Option<DeploymentView>,
    /// The JSON sent last: nothing is sent twice.
    last_sent: Option<String>,
    ended: bool,
}

async fn next_event(mut f: Follow) -> Option<(Result<Event, Infallible>, Follow)> {
    loop {
        if f.ended {
            return None;
        }
        let view = match f.pending.take() {
            Some(view) => view,
            None => {
                tokio::select! {
                    () = f.state.stopping.cancelled() => return None,
                    changed = f.changes.changed() => {
                        if changed.is_err() {
                            // The engine is gone (shutting down): fall back to the timer.
                            tokio::time::sleep(RECHECK).await;
                        }
                    }
                    () = tokio::time::sleep(RECHECK) => {}
                }
                match f.state.console.deployment_progress(&f.caller, f.id).await {
                    Ok(view) => view,
                    Err(e) => {
                        f.ended = true;
                        let event = Event::default().event("error").data(e.to_string());
                        return Some((Ok(event), f));
                    }
                }
            }
        };
        let json = match serde_json::to_string(&view) {
            Ok(json) => json,
            Err(e) => {
                tracing::error!(error = %e, "cannot serialize a deploy for its event stream");
                return None;
            }
        };
        if f.last_sent.as_deref() == Some(json.as_str()) {
            continue;
        }
        f.ended = view.state.is_final();
        let event = Event::default().event("deployment").data(json.clone());
        f.last_sent = Some(json);
        return Some((Ok(event), f));
    }
}
