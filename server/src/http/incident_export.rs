//! `GET /incidents/{id}/record.md`: the post-incident record as a Markdown file.

use axum::{
    Extension,
    extract::{Path, State},
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use flightdeck_app::console::Caller;

use super::{AppState, error_response};

pub async fn export(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<i64>,
) -> Response {
    match state.console.incident_record(&caller, id).await {
        Ok(markdown) => {
            // The number is an integer: the file name needs no escaping.
            let disposition =
                HeaderValue::from_str(&format!("attachment; filename=\"incident-{id}.md\""))
                    .unwrap_or(HeaderValue::from_static("attachment"));
            (
                [
                    (
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("text/markdown; charset=utf-8"),
                    ),
                    (header::CONTENT_DISPOSITION, disposition),
                    (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
                ],
                markdown,
            )
                .into_response()
        }
        Err(e) => error_response(e),
    }
}
