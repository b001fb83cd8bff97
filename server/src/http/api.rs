//! The stable JSON API under `/api/v1/`, for scripts and CI. Callers authenticate with an API
//! token (`Authorization: Bearer fdt_…`) or a session; every handler goes through the same
//! [`flightdeck_app::console::Console`] methods as the pages, so the same role checks apply.

use axum::{
    Extension, Json,
    extract::{Path, State, rejection::JsonRejection},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use flightdeck_app::{console::Caller, error::ConsoleError, model::DeployForm};
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

/// `GET /api/v1/costs`: the figures of the costs page.
pub async fn costs(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Response {
    match state.console.costs(&caller).await {
        Ok(page) => Json(page).into_response(),
        Err(e) => json_error(&e),
    }
}

/// `POST /api/v1/deployments` with a JSON [`DeployForm`]: 202 with the job (queued, or the
/// earlier job with the same idempotency key), 409 naming the deploy in progress, 403 when the
/// caller's role may not change that environment, 400 naming a wrong field.
pub async fn request_deploy(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    form: Result<Json<DeployForm>, JsonRejection>,
) -> Response {
    let Json(form) = match form {
        Ok(form) => form,
        Err(rejection) => {
            return json_error(&ConsoleError::Invalid {
                field: "body".to_owned(),
                message: rejection.body_text(),
            });
        }
    };
    match state.console.request_deploy(&caller, form).await {
        Ok(job) => (StatusCode::ACCEPTED, Json(job)).into_response(),
        Err(e) => json_error(&e),
    }
}

/// `GET /api/v1/deployments/{id}`: the job with its steps.
pub async fn deployment(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<i64>,
) -> Response {
    match state.console.deployment(&caller, id).await {
        Ok(job) => Json(job).into_response(),
        Err(e) => json_error(&e),
    }
}

/// `GET /api/v1/environments/{env}/services`: what runs in one environment, read live.
pub async fn environment_services(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(environment): Path<String>,
) -> Response {
    match state
        .console
        .environment_services(&caller, environment)
        .await
    {
        Ok(rows) => Json(rows).into_response(),
        Err(e) => json_error(&e),
    }
}

/// `GET /api/v1/environments/{env}/services/{service}/promotion`: what promoting the service to
/// `env` from the environment before it would change; send its `after.digest` as `reviewed`.
pub async fn promotion_preview(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((environment, service)): Path<(String, String)>,
) -> Response {
    match state
        .console
        .promotion_preview(&caller, service, environment)
        .await
    {
        Ok(preview) => Json(preview).into_response(),
        Err(e) => json_error(&e),
    }
}
