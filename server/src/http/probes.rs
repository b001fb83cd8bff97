//! `/healthz` (the process runs) and `/readyz` (it can do its work: the store answers).
//! Orchestrators restart on the first and route traffic on the second.

use std::time::Duration;

use axum::{extract::State, http::StatusCode};

use super::AppState;

/// A store that takes longer than this is as good as down for a readiness check.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

pub async fn healthz() -> &'static str {
    "ok\n"
}

pub async fn readyz(State(state): State<AppState>) -> (StatusCode, String) {
    match tokio::time::timeout(READY_TIMEOUT, state.store.ping()).await {
        Ok(Ok(())) => (StatusCode::OK, "ready\n".to_owned()),
        Ok(Err(e)) => (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {e}\n")),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "not ready: the database did not answer within {} s\n",
                READY_TIMEOUT.as_secs()
            ),
        ),
    }
}
