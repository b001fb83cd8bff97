//! `GET /api/v1/dashboard/events`: the dashboard's revision as server-sent events.
//!
//! The first event carries the revision now, then one event per change (`views::Revisions`).
//! Each event's id is the revision, so a page that reconnects (EventSource does that by itself,
//! and the page reopens the stream when its tab is shown again) learns at once whether it missed
//! a change, and loads the matrix again only then. Events carry no data beyond the count: the
//! page asks for the matrix through the usual, authorized server function.

use std::convert::Infallible;

use axum::{
    Extension,
    extract::State,
    response::{
        IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
};
use flightdeck_app::{console::Caller, error::ConsoleError, model::Action};

use super::{AppState, api::json_error};
use crate::auth::authorize;

pub async fn stream(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Response {
    if let Err(e) = authorize(&caller, Action::View) {
        return json_error(&ConsoleError::from(e));
    }
    let mut revisions = state.revisions.subscribe();
    // The revision now is the first event.
    revisions.mark_changed();
    let stopping = state.stopping.clone();
    let events = futures_util::stream::unfold(revisions, move |mut revisions| {
        let stopping = stopping.clone();
        async move {
            tokio::select! {
                () = stopping.cancelled() => None,
                changed = revisions.changed() => {
                    changed.ok()?;
                    let revision = *revisions.borrow_and_update();
                    let event = Event::default()
                        .event("revision")
                        .id(revision.to_string())
                        .data(revision.to_string());
                    Some((Ok::<_, Infallible>(event), revisions))
                }
            }
        }
    });
    Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response()
}
