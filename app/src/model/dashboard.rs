//! What the dashboard shows: environments as columns, services as rows.

use serde::{Deserialize, Serialize};

use super::{EnvName, HealthSummary, ServiceName, Timestamp};

/// One render of the environment x service matrix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dashboard {
    pub title: String,
    /// When the server built this view; relative times ("5 min ago") are computed from it.
    pub generated_at: Timestamp,
    /// How often the page asks again: the probe interval, so it never polls faster than the
    /// health it shows can change.
    pub refresh_seconds: u32,
    /// In display order.
    pub environments: Vec<EnvironmentColumn>,
    /// In configuration order.
    pub services: Vec<ServiceRow>,
    /// The freeze windows of the configuration: on now, or when the next starts.
    #[serde(default)]
    pub freezes: Vec<FreezeNotice>,
}

/// A freeze window as the dashboard shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FreezeNotice {
    pub name: String,
    /// "production (all services)", "production: shop".
    pub scope: String,
    pub reason: String,
    /// While it is on: when it ends.
    pub on_until: Option<Timestamp>,
    /// The next run (after the one on now): start and end.
    pub next: Option<(Timestamp, Timestamp)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvironmentColumn {
    pub name: EnvName,
    /// Production-like: changes need the releaser role.
    pub protected: bool,
    pub backend: BackendSummary,
}

/// Where an environment runs, without any address or credential.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BackendSummary {
    Docker,
    Ecs { region: String, cluster: String },
}

impl BackendSummary {
    pub fn label(&self) -> String {
        match self {
            BackendSummary::Docker => "Docker".to_owned(),
            BackendSummary::Ecs { region, cluster } => format!("ECS {cluster} ({region})"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceRow {
    pub name: ServiceName,
    pub description: String,
    pub owner: Option<String>,
    /// Where a cell that is not healthy links, to the service's runbooks (its one runbook, the
    /// list of them, or its page's links kept elsewhere); `None` when it has none.
    pub runbooks_href: Option<String>,
    /// One per environment, in the same order as [`Dashboard::environments`].
    pub cells: Vec<Cell>,
}

/// A service in one environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    pub environment: EnvName,
    /// The container (Docker) or ECS service name; `None` when the service does not run there.
    pub target: Option<String>,
    pub health_url: Option<String>,
    /// The newest version the console has recorded; `None` when it knows nothing yet.
    pub last_known: Option<KnownVersion>,
    /// `None` when the service does not run here.
    pub health: Option<HealthSummary>,
    /// The environment before this one (display order) when it runs another version.
    pub differs_from: Option<EnvName>,
    /// The unfinished deploy holding the service here.
    pub deploying: Option<i64>,
    /// That deploy waits for a releaser's approval.
    #[serde(default)]
    pub awaiting_approval: bool,
    /// The open incident whose scope this cell is in (deploys here are frozen).
    #[serde(default)]
    pub incident: Option<i64>,
}

/// A version the console saw running (or deployed) somewhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownVersion {
    /// The human version: image tag or version label, e.g. `1.4.2`.
    pub version: String,
    /// The image reference, e.g. `registry.example.com/shop/api:1.4.2`.
    pub image: String,
    /// The content digest, e.g. `sha256:…`, when the backend reports one.
    pub digest: Option<String>,
    pub observed_at: Timestamp,
}
