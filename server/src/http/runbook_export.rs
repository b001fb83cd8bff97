//! `GET /runbooks/export.html`: every runbook in one file, for a phone or laptop to keep.

use axum::{
    Extension,
    extract::State,
    http::header,
    response::{IntoResponse, Response},
};
use flightdeck_app::console::Caller;

use super::{AppState, error_response};

/// The file's only active content is its inline stylesheet; it loads nothing.
const POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; \
                      base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

pub async fn export(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Response {
    match state.console.runbook_export(&caller).await {
        Ok(html) => (
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CONTENT_SECURITY_POLICY, POLICY),
                (header::CACHE_CONTROL, "no-store"),
            ],
            html,
        )
            .into_response(),
        Err(e) => error_response(e),
    }
}
