//! The stable JSON API under `/api/v1/`, for scripts and CI. Callers authenticate with an API
//! token (`Authorization: Bearer fdt_…`) or a session; every handler goes through the same
//! [`flightdeck_app::console::Console`] methods as the pages, so the same role checks apply.

use axum::{
    Extension, Json,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use flightdeck_app::{console::Caller, error::ConsoleError};
use serde::Serialize;

use super::AppState;

#[derive(Serialize)]
struct ErrorBody {
    error: String,
}

/// An error as `{"error": "…"}` with the status that fits; internals are never in it.
pub fn json_error(e: &ConsoleError) -> Response {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        Json(ErrorBody {
            error: e.to_string(),
        }),
    )
        .into_response()
}

/// `GET /api/v1/health`: every service in every environment, in configuration order, with
/// state, reason, since, last latency and reported version.
pub async fn health(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Response {
    match state.console.health(&caller).await {
        Ok(rows) => Json(rows).into_response(),
        Err(e) => json_error(&e),
    }
}
