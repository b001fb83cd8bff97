//! `/metrics` for Prometheus (OpenMetrics text, which Prometheus scrapes natively): requests by
//! route and status, a latency histogram, build information, the health prober's counters and
//! the monthly cost estimates.

use std::{
    sync::{Arc, atomic::AtomicU64},
    time::Instant,
};

use axum::{
    Extension,
    extract::{MatchedPath, Request, State},
    http::{HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram, info::Info},
    registry::Registry,
};

use flightdeck_app::{
    console::Caller,
    model::{Action, Cost, CostsPage},
};

use super::AppState;
use crate::health::MonitorStats;

const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Upper bounds in seconds: 1 ms to ~8 s, doubling.
fn latency_buckets() -> Histogram {
    Histogram::new([
        0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024, 2.048, 4.096,
        8.192,
    ])
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CostLabels {
    environment: String,
    service: String,
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: Family<RouteLabels, Histogram, fn() -> Histogram>,
    costs: Family<CostLabels, Gauge<f64, AtomicU64>>,
    /// Per environment: measured month to date, forecast, budget, thresholds reached.
    spent: Family<EnvLabels, Gauge<f64, AtomicU64>>,
    forecast: Family<EnvLabels, Gauge<f64, AtomicU64>>,
    budget: Family<EnvLabels, Gauge<f64, AtomicU64>>,
    reached: Family<EnvLabels, Gauge>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EnvLabels {
    environment: String,
}

impl Metrics {
    pub fn new(health: &MonitorStats) -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let durations = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_buckets,
        );
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time from request to response headers, by method and route",
            durations.clone(),
        );
        registry.register(
            "flightdeck_build",
            "The running Flightdeck build",
            Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
        );
        registry.register(
            "flightdeck_health_rounds",
            "Health probe rounds run",
            health.rounds.clone(),
        );
        registry.register(
            "flightdeck_health_probes",
            "HTTP health probes sent",
            health.probes.clone(),
        );
        registry.register(
            "flightdeck_health_missed_intervals",
            "Probe intervals skipped because the round before overran",
            health.missed_intervals.clone(),
        );
        let costs = Family::<CostLabels, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "flightdeck_cost_monthly_estimate_usd",
            "A service's monthly cost in an environment, estimated from what runs (see /costs)",
            costs.clone(),
        );
        let spent = Family::<EnvLabels, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "flightdeck_cost_month_to_date_usd",
            "What AWS Cost Explorer counted for an environment this month so far",
            spent.clone(),
        );
        let forecast = Family::<EnvLabels, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "flightdeck_cost_forecast_usd",
            "An environment's measured month, forecast to its end",
            forecast.clone(),
        );
        let budget = Family::<EnvLabels, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "flightdeck_budget_usd",
            "An environment's monthly budget",
            budget.clone(),
        );
        let reached = Family::<EnvLabels, Gauge>::default();
        registry.register(
            "flightdeck_budget_thresholds_reached",
            "How many of an environment's budget thresholds this month's figures have reached",
            reached.clone(),
        );
        Self {
            registry,
            requests,
            durations,
            costs,
            spent,
            forecast,
            budget,
            reached,
        }
    }

    /// The estimates of the costs page, as gauges; a figure that is not known now is left out.
    fn set_costs(&self, page: &CostsPage) {
        for row in &page.services {
            for cell in &row.cells {
                let labels = CostLabels {
                    environment: cell.environment.to_string(),
                    service: row.service.to_string(),
                };
                match cell.cost {
                    #[allow(clippy::cast_precision_loss)] // cents, far below 2^53
                    Cost::Estimate { monthly_cents, .. } => {
                        self.costs
                            .get_or_create(&labels)
                            .set(monthly_cents as f64 / 100.0);
                    }
                    _ => {
                        self.costs.remove(&labels);
                    }
                }
            }
        }
        #[allow(clippy::cast_precision_loss)] // cents, far below 2^53
        let usd = |cents: i64| cents as f64 / 100.0;
        for env in &page.environments {
            let labels = EnvLabels {
                environment: env.name.to_string(),
            };
            let set =
                |family: &Family<EnvLabels, Gauge<f64, AtomicU64>>, cents: Option<i64>| match cents
                {
                    Some(c) => {
                        family.get_or_create(&labels).set(usd(c));
                    }
                    None => {
                        family.remove(&labels);
                    }
                };
            let measured = env.measured.as_ref().filter(|m| m.fetched_at.is_some());
            set(&self.spent, measured.map(|m| m.spent_cents));
            set(&self.forecast, measured.and_then(|m| m.forecast_cents));
            set(&self.budget, env.budget.as_ref().map(|b| b.limit_cents));
            match &env.budget {
                Some(b) => {
                    let reached = b
                        .thresholds
                        .iter()
                        .filter(|t| t.crossed_at.is_some())
                        .count();
                    self.reached
                        .get_or_create(&labels)
                        .set(i64::try_from(reached).unwrap_or(i64::MAX));
                }
                None => {
                    self.reached.remove(&labels);
                }
            }
        }
    }

    fn observe(&self, method: &'static str, route: String, status: u16, seconds: f64) {
        self.durations
            .get_or_create(&RouteLabels {
                method,
                route: route.clone(),
            })
            .observe(seconds);
        self.requests
            .get_or_create(&RequestLabels {
                method,
                route,
                status,
            })
            .inc();
    }

    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

/// Middleware: counts and times every request.
pub async fn track(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = method_label(request.method());
    let route = route_label(&request);
    let response = next.run(request).await;
    metrics.observe(
        method,
        route,
        response.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    response
}

pub async fn render(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Response {
    if let Err(e) = crate::auth::authorize(&caller, Action::View) {
        return super::error_response(e.into());
    }
    // Read fresh at each scrape: the backends are asked what runs now.
    if let Ok(costs) = state.console.costs(&caller).await {
        state.metrics.set_costs(&costs);
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))],
        state.metrics.encode(),
    )
        .into_response()
}

/// The route pattern, never the raw path: raw paths would let any client create unbounded
/// label values (one per typo or scan).
fn route_label(request: &Request) -> String {
    if let Some(path) = request.extensions().get::<MatchedPath>() {
        return path.as_str().to_owned();
    }
    if request.uri().path().starts_with("/pkg/") {
        "/pkg/{file}".to_owned()
    } else {
        "unmatched".to_owned()
    }
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}
