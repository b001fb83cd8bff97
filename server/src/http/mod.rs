//! The HTTP surface: pages (Leptos SSR + server functions), operational endpoints and the
//! middleware every response passes through.
//!
//! Order of the layers, outermost first: panic catcher, security headers, the network
//! allow-list (nothing else runs for a refused address), tracing, metrics, timeout,
//! compression, the cross-site check, then authentication. Authorization is not a layer: each
//! handler and server function asks `auth::authorize` for the action it performs.

pub mod api;
mod audit_export;
mod authenticate;
mod client;
mod costs_export;
mod csrf;
mod dashboard_events;
mod deploy_events;
mod incident_export;
mod logs;
pub mod metrics;
mod probes;
mod runbook_export;
mod security_headers;

use std::{
    sync::{Arc, OnceLock},
    time::Duration,
};

use axum::{
    Router,
    extract::FromRef,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use flightdeck_app::{
    App,
    console::{Console, ConsoleContext},
    error::ConsoleError,
    shell,
};
use leptos::{config::LeptosOptions, prelude::provide_context};
use leptos_axum::{AxumRouteListing, LeptosRoutes, generate_route_list};
use tower::ServiceBuilder;
use tower_http::{
    catch_panic::CatchPanicLayer, compression::CompressionLayer, timeout::TimeoutLayer,
    trace::TraceLayer,
};

use crate::{auth::AuthService, config::AccessSettings, store::Store};

/// How long any request may take before the client gets 503. Pages and server functions answer
/// in milliseconds; this only cuts off a stuck dependency.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Everything a handler may need. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub leptos: LeptosOptions,
    pub console: Arc<dyn Console>,
    pub store: Arc<dyn Store>,
    pub auth: Arc<AuthService>,
    pub access: Arc<AccessSettings>,
    pub metrics: Arc<metrics::Metrics>,
    /// Wakes the live deploy pages when a step was recorded.
    pub deploy_changes: tokio::sync::watch::Receiver<u64>,
    /// The dashboard's count of changes (`/api/v1/dashboard/events`).
    pub revisions: Arc<crate::views::Revisions>,
    /// `GET /api/v1/health` as last written.
    pub health_json: Arc<api::HealthJson>,
    /// Reads and follows logs (`/api/v1/logs/...`).
    pub logs: Arc<crate::logs::LogService>,
    /// Cancelled when the server shuts down: long-lived responses end then.
    pub stopping: tokio_util::sync::CancellationToken,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}

/// A [`ConsoleError`] as an HTTP response for the non-Leptos routes: the status that fits and
/// the user-facing message, never internal detail.
pub fn error_response(e: ConsoleError) -> Response {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{e}\n"),
    )
        .into_response()
}

/// The page routes, worked out once per process: they never change, and working them out
/// renders the whole app on Leptos's process-wide reactive state. Doing that again while
/// another router in the same process rendered a page made about one page in a hundred hang
/// until the request timeout (seen in the tests, which start many servers in one process:
/// 9 of 480 dashboard loads with four servers starting in parallel, 0 of 1,200 once the list
/// was shared). The Leptos reactive internals behind it were not pinned down.
fn page_routes() -> Vec<AxumRouteListing> {
    static ROUTES: OnceLock<Vec<AxumRouteListing>> = OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

pub fn router(state: AppState) -> Router {
    let routes = page_routes();
    let console = ConsoleContext(state.console.clone());
    let leptos = state.leptos.clone();

    Router::new()
        .route("/healthz", get(probes::healthz))
        .route("/readyz", get(probes::readyz))
        .route("/metrics", get(metrics::render))
        .route("/audit.csv", get(audit_export::export))
        .route("/costs.csv", get(costs_export::export))
        .route("/runbooks/export.html", get(runbook_export::export))
        .route("/api/v1/health", get(api::health))
        .route("/api/v1/dashboard/events", get(dashboard_events::stream))
        .route("/api/v1/logs/{environment}/{service}", get(logs::page))
        .route(
            "/api/v1/logs/{environment}/{service}/events",
            get(logs::follow),
        )
        .route(
            "/api/v1/logs/{environment}/{service}/download",
            get(logs::download),
        )
        .route("/api/v1/costs", get(api::costs))
        .route("/incidents/{id}/record.md", get(incident_export::export))
        .route(
            "/api/v1/incidents",
            get(api::incidents).post(api::declare_incident),
        )
        .route("/api/v1/incidents/{id}", get(api::incident))
        .route("/api/v1/incidents/{id}/notes", post(api::note_incident))
        .route(
            "/api/v1/incidents/{id}/resolve",
            post(api::resolve_incident),
        )
        .route("/api/v1/deployments", post(api::request_deploy))
        .route("/api/v1/deployments/{id}", get(api::deployment))
        .route(
            "/api/v1/deployments/{id}/approve",
            post(api::approve_deployment),
        )
        .route(
            "/api/v1/deployments/{id}/reject",
            post(api::reject_deployment),
        )
        .route(
            "/api/v1/deployments/{id}/events",
            get(deploy_events::stream),
        )
        .route(
            "/api/v1/environments/{environment}/services",
            get(api::environment_services),
        )
        .route(
            "/api/v1/environments/{environment}/services/{service}/promotion",
            get(api::promotion_preview),
        )
        .leptos_routes_with_context(
            &state,
            routes,
            move || provide_context(console.clone()),
            move || shell(leptos.clone()),
        )
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(
            ServiceBuilder::new()
                .layer(CatchPanicLayer::new())
                .layer(axum::middleware::from_fn(security_headers::add))
                .layer(axum::middleware::from_fn_with_state(
                    state.access.clone(),
                    client::identify,
                ))
                .layer(TraceLayer::new_for_http())
                .layer(axum::middleware::from_fn_with_state(
                    state.metrics.clone(),
                    metrics::track,
                ))
                .layer(TimeoutLayer::with_status_code(
                    StatusCode::SERVICE_UNAVAILABLE,
                    REQUEST_TIMEOUT,
                ))
                .layer(CompressionLayer::new())
                .layer(axum::middleware::from_fn(csrf::refuse_cross_site))
                .layer(axum::middleware::from_fn_with_state(
                    state.auth.clone(),
                    authenticate::authenticate,
                )),
        )
        .with_state(state)
}
