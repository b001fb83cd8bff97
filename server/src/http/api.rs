//! The stable JSON API under `/api/v1/`, for scripts and CI. Callers authenticate with an API
//! token (`Authorization: Bearer fdt_…`) or a session; every handler goes through the same
//! [`flightdeck_app::console::Console`] methods as the pages, so the same role checks apply.

use std::sync::{Arc, Mutex};

use axum::{
    Extension, Json,
    body::Bytes,
    extract::{Path, State, rejection::JsonRejection},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use flightdeck_app::{
    console::Caller,
    error::ConsoleError,
    model::{ApprovalForm, DeclareForm, DeployForm, TargetHealth},
};
use serde::{Deserialize, Serialize};

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
    let rows = match state.console.health(&caller).await {
        Ok(rows) => rows,
        Err(e) => return json_error(&e),
    };
    match state.health_json.body(rows) {
        Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "cannot write the health list as JSON");
            json_error(&ConsoleError::Internal)
        }
    }
}

/// The body of `GET /api/v1/health`. The console shares one list per change of what the
/// monitor shows, so the list is written as JSON once per change and every request until the
/// next sends the same bytes: writing 150 rows was most of what a request cost.
#[derive(Default)]
pub struct HealthJson {
    last: Mutex<Option<(Arc<Vec<TargetHealth>>, Bytes)>>,
}

impl HealthJson {
    fn body(&self, rows: Arc<Vec<TargetHealth>>) -> Result<Bytes, serde_json::Error> {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        // The list is kept with its bytes, so the pointer cannot be another list's.
        if let Some((written, body)) = last.as_ref()
            && Arc::ptr_eq(written, &rows)
        {
            return Ok(body.clone());
        }
        let body = Bytes::from(serde_json::to_vec(rows.as_slice())?);
        *last = Some((rows, body.clone()));
        Ok(body)
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
    let form = match body(form) {
        Ok(form) => form,
        Err(e) => return json_error(&e),
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

#[derive(Deserialize)]
pub struct DecisionBody {
    #[serde(default)]
    comment: String,
}

/// `POST /api/v1/deployments/{id}/approve` with `{"comment": "…"}`: the job, queued once it
/// has the approvals it needs. 403 for the requester (any of their tokens) and below releaser,
/// 409 when it is not awaiting approval or frozen.
pub async fn approve_deployment(
    state: State<AppState>,
    caller: Extension<Caller>,
    id: Path<i64>,
    body: Result<Json<DecisionBody>, JsonRejection>,
) -> Response {
    decide(state, caller, id, "approve", body).await
}

/// `POST /api/v1/deployments/{id}/reject` with `{"comment": "why"}`: the job, rejected.
pub async fn reject_deployment(
    state: State<AppState>,
    caller: Extension<Caller>,
    id: Path<i64>,
    body: Result<Json<DecisionBody>, JsonRejection>,
) -> Response {
    decide(state, caller, id, "reject", body).await
}

async fn decide(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<i64>,
    decision: &str,
    sent: Result<Json<DecisionBody>, JsonRejection>,
) -> Response {
    let body = match body(sent) {
        Ok(body) => body,
        Err(e) => return json_error(&e),
    };
    let form = ApprovalForm {
        deployment: id,
        decision: decision.to_owned(),
        comment: body.comment,
    };
    match state.console.decide_deployment(&caller, form).await {
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

/// A JSON body, or the 400 error that names what is wrong with it.
fn body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, ConsoleError> {
    body.map(|Json(b)| b)
        .map_err(|rejection| ConsoleError::Invalid {
            field: "body".to_owned(),
            message: rejection.body_text(),
        })
}

/// `GET /api/v1/incidents`: open incidents (oldest first) and the latest past ones.
pub async fn incidents(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Response {
    match state.console.incidents(&caller).await {
        Ok(list) => Json(list).into_response(),
        Err(e) => json_error(&e),
    }
}

#[derive(Serialize)]
struct Declared {
    id: i64,
}

/// `POST /api/v1/incidents` with a JSON [`DeclareForm`] (lists comma-separated): 201 with its
/// number. Deployers and up.
pub async fn declare_incident(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    form: Result<Json<DeclareForm>, JsonRejection>,
) -> Response {
    let form = match body(form) {
        Ok(form) => form,
        Err(e) => return json_error(&e),
    };
    match state.console.declare_incident(&caller, form).await {
        Ok(id) => (StatusCode::CREATED, Json(Declared { id })).into_response(),
        Err(e) => json_error(&e),
    }
}

/// `GET /api/v1/incidents/{id}`: the incident with its timeline.
pub async fn incident(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<i64>,
) -> Response {
    match state.console.incident(&caller, id).await {
        Ok(page) => Json(page).into_response(),
        Err(e) => json_error(&e),
    }
}

#[derive(Deserialize)]
pub struct NoteBody {
    note: String,
    /// When it happened, if before now: `2026-11-30T08:02:00Z`.
    #[serde(default)]
    happened_at: String,
}

/// `POST /api/v1/incidents/{id}/notes` with `{"note": "…", "happened_at": "…"}`: 204.
pub async fn note_incident(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<i64>,
    note: Result<Json<NoteBody>, JsonRejection>,
) -> Response {
    let note = match body(note) {
        Ok(note) => note,
        Err(e) => return json_error(&e),
    };
    match state
        .console
        .note_incident(&caller, id, note.note, note.happened_at)
        .await
    {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => json_error(&e),
    }
}

#[derive(Deserialize)]
pub struct ResolveBody {
    summary: String,
}

/// `POST /api/v1/incidents/{id}/resolve` with `{"summary": "…"}`: 204; 409 when it already is.
pub async fn resolve_incident(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<i64>,
    resolve: Result<Json<ResolveBody>, JsonRejection>,
) -> Response {
    let resolve = match body(resolve) {
        Ok(resolve) => resolve,
        Err(e) => return json_error(&e),
    };
    match state
        .console
        .resolve_incident(&caller, id, resolve.summary)
        .await
    {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => json_error(&e),
    }
}
