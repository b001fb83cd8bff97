//! The health of one service in one environment, as the dashboard and the API show it.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{EnvName, ServiceName, Timestamp};

/// Ordered from best to worst, so combining sources is `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthState {
    Healthy,
    /// Up, but something it reports (or its latency) is not right.
    Degraded,
    Unhealthy,
    /// Never probed, or nothing to probe.
    Unknown,
}

impl HealthState {
    pub fn as_str(self) -> &'static str {
        match self {
            HealthState::Healthy => "healthy",
            HealthState::Degraded => "degraded",
            HealthState::Unhealthy => "unhealthy",
            HealthState::Unknown => "unknown",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            HealthState::Healthy,
            HealthState::Degraded,
            HealthState::Unhealthy,
            HealthState::Unknown,
        ]
        .into_iter()
        .find(|state| state.as_str() == s)
    }

    /// Degraded or unhealthy: worth a runbook link.
    pub fn in_trouble(self) -> bool {
        matches!(self, HealthState::Degraded | HealthState::Unhealthy)
    }

    /// What a page shows next to the colour, so the state never depends on colour alone.
    pub fn label(self) -> &'static str {
        match self {
            HealthState::Healthy => "Healthy",
            HealthState::Degraded => "Degraded",
            HealthState::Unhealthy => "Unhealthy",
            HealthState::Unknown => "Unknown",
        }
    }
}

impl fmt::Display for HealthState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The health of one service in one environment as the console sees it now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthSummary {
    pub state: HealthState,
    /// Why: "HTTP 500", "database: disconnected", "container restarting (7 restarts)", …
    pub reason: String,
    /// When the state shown last changed; `None` before the first change was recorded.
    pub since: Option<Timestamp>,
    /// When the last probe round finished for this target.
    pub checked_at: Option<Timestamp>,
    /// Latency of the last HTTP probe, in milliseconds.
    pub latency_ms: Option<f64>,
    /// The version the service's health endpoint reports, when it reports one.
    pub reported_version: Option<String>,
    /// The version the console knows is deployed, when it differs from the reported one.
    pub expected_version: Option<String>,
}

impl HealthSummary {
    pub fn unknown(reason: impl Into<String>) -> Self {
        Self {
            state: HealthState::Unknown,
            reason: reason.into(),
            since: None,
            checked_at: None,
            latency_ms: None,
            reported_version: None,
            expected_version: None,
        }
    }

    /// The service reports a version other than the one deployed.
    pub fn version_mismatch(&self) -> bool {
        self.expected_version.is_some()
    }
}

/// One row of `GET /api/v1/health`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetHealth {
    pub environment: EnvName,
    pub service: ServiceName,
    #[serde(flatten)]
    pub health: HealthSummary,
}

/// The health of some services now, for a part of a page that stays live.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthNow {
    pub generated_at: Timestamp,
    /// In configuration order.
    pub targets: Vec<TargetHealth>,
}

impl HealthNow {
    /// Whether a badge of each target would show the same as `other`'s: state, reason, since
    /// when, and the versions reported and deployed. When each probe round finished and how
    /// fast it answered are not shown, so they do not count.
    pub fn shows_same_as(&self, other: &HealthNow) -> bool {
        self.targets.len() == other.targets.len()
            && self.targets.iter().zip(&other.targets).all(|(a, b)| {
                let (x, y) = (&a.health, &b.health);
                a.environment == b.environment
                    && a.service == b.service
                    && x.state == y.state
                    && x.reason == y.reason
                    && x.since == y.since
                    && x.reported_version == y.reported_version
                    && x.expected_version == y.expected_version
            })
    }
}

/// A recorded change of state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthChange {
    pub from: HealthState,
    pub to: HealthState,
    pub reason: String,
    pub at: Timestamp,
}

/// One point of a latency sparkline: a minute (or an hour) of probes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LatencyPoint {
    pub at: Timestamp,
    pub avg_ms: f64,
    pub max_ms: f64,
}

/// Uptime over the usual windows, in percent; `None` where nothing was probed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Uptime {
    pub day: Option<f64>,
    pub week: Option<f64>,
    pub month: Option<f64>,
}

/// The release the console last saw running in one environment (observed or deployed): the
/// dashboard shows its version, the service page also its image and digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeenRelease {
    pub version: String,
    pub image: String,
    pub digest: Option<String>,
    /// When this version was first seen there.
    pub since: Timestamp,
}

/// A service in one environment, on the service page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvironmentHealth {
    pub environment: EnvName,
    /// The container or ECS service name.
    pub target: String,
    pub health_url: Option<String>,
    /// What the console last saw running there; `None` until it has seen anything.
    pub release: Option<SeenRelease>,
    pub health: HealthSummary,
    pub uptime: Uptime,
    /// Oldest first.
    pub latency: Vec<LatencyPoint>,
    /// Newest first.
    pub changes: Vec<HealthChange>,
    /// For an ECS service: its tasks and deployments, as the last health round read them.
    pub ecs: Option<EcsServiceView>,
}

/// An ECS service's tasks and deployments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EcsServiceView {
    /// `family:revision` of the task definition the service runs.
    pub task_definition: String,
    /// The container whose image is the service's version.
    pub container: String,
    pub desired: i32,
    pub running: i32,
    pub pending: i32,
    /// The deployment circuit breaker, in words; `None` when ECS did not say.
    pub circuit_breaker: Option<String>,
    /// Newest first, as ECS lists them.
    pub deployments: Vec<EcsDeploymentView>,
}

/// One deployment of an ECS service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EcsDeploymentView {
    /// `PRIMARY`, `ACTIVE` or `INACTIVE`.
    pub status: String,
    /// `family:revision`.
    pub task_definition: String,
    /// `IN_PROGRESS`, `COMPLETED`, `FAILED`, when ECS tracks it.
    pub rollout_state: Option<String>,
    pub rollout_reason: Option<String>,
    pub desired: i32,
    pub running: i32,
    pub pending: i32,
    pub failed_tasks: i32,
}

/// The service page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceHealthPage {
    pub name: ServiceName,
    pub description: String,
    pub owner: Option<String>,
    pub generated_at: Timestamp,
    /// In display order; only environments the service runs in.
    pub environments: Vec<EnvironmentHealth>,
    /// The runbooks written for it (`[runbooks] dir`), by title.
    pub runbook_pages: Vec<super::RunbookSummary>,
    /// Links to runbooks kept elsewhere (`[[service.runbook]]`).
    pub runbooks: Vec<RunbookLink>,
    /// What it costs a month in each environment it runs in, and how that is made up.
    pub costs: Vec<super::CostCell>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunbookLink {
    pub title: String,
    /// Always http or https (checked when the configuration is read).
    pub url: String,
}

#[cfg(test)]
mod tests {
    use super::{HealthNow, HealthState, HealthSummary, TargetHealth};
    use crate::model::{EnvName, ServiceName, Timestamp};

    fn now(state: HealthState, checked_at: i64) -> HealthNow {
        let mut health = HealthSummary::unknown("HTTP 503");
        health.state = state;
        health.checked_at = Some(Timestamp::from_unix_millis(checked_at));
        health.latency_ms = Some(checked_at as f64);
        HealthNow {
            generated_at: Timestamp::from_unix_millis(checked_at),
            targets: vec![TargetHealth {
                environment: EnvName::parse("dev").unwrap(),
                service: ServiceName::parse("shop").unwrap(),
                health,
            }],
        }
    }

    #[test]
    fn a_new_probe_round_of_the_same_health_shows_the_same() {
        let shown = now(HealthState::Unhealthy, 1_000);
        assert!(shown.shows_same_as(&now(HealthState::Unhealthy, 11_000)));
        assert!(!shown.shows_same_as(&now(HealthState::Healthy, 11_000)));
        assert!(!shown.shows_same_as(&HealthNow {
            targets: Vec::new(),
            ..now(HealthState::Unhealthy, 1_000)
        }));
    }
}
