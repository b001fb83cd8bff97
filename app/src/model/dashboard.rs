//! What the dashboard shows: environments as columns, services as rows.

use serde::{Deserialize, Serialize};

use super::{EnvName, HealthState, HealthSummary, ServiceName, Timestamp};

/// One render of the environment x service matrix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dashboard {
    pub title: String,
    /// When the server built this view.
    pub generated_at: Timestamp,
    /// The console's count of changes to what the matrix shows, as of this view. The page
    /// follows `/api/v1/dashboard/events` and loads again only when that count moves on.
    pub revision: u64,
    /// In display order.
    pub environments: Vec<EnvironmentColumn>,
    /// In configuration order.
    pub services: Vec<ServiceRow>,
    /// The freeze windows of the configuration: on now, or when the next starts.
    #[serde(default)]
    pub freezes: Vec<FreezeNotice>,
}

/// The dashboard's matrix as the page shows it: HTML rendered by the server from a
/// [`Dashboard`] (its summary line, freeze notices and table), and the revision it is as of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatrixView {
    pub revision: u64,
    pub html: String,
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runbooks_href: Option<String>,
    /// One per environment, in the same order as [`Dashboard::environments`].
    pub cells: Vec<Cell>,
}

/// A service in one environment: what scans at a glance (health, version, badges). The
/// target, health URL and history are on the service page (digests on deploy pages), so a
/// 50 x 3 matrix stays small enough to send and to read on a phone. Cells are in the order of
/// [`Dashboard::environments`], and empty fields are left out of the JSON.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Cell {
    /// `None` when the service does not run here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<CellHealth>,
    /// The newest version the console has recorded (tag or label, e.g. `1.4.2`); `None` when
    /// it knows nothing yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The environment before this one (display order) when it runs another version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub differs_from: Option<EnvName>,
    /// The unfinished deploy holding the service here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deploying: Option<i64>,
    /// That deploy waits for a releaser's approval.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub awaiting_approval: bool,
    /// The open incident whose scope this cell is in (deploys here are frozen).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident: Option<i64>,
}

impl Cell {
    /// The service runs in this environment.
    pub fn configured(&self) -> bool {
        self.health.is_some()
    }
}

/// How much of a reason a cell carries; the service page has it in full.
pub const REASON_CHARS: usize = 40;

/// `text` cut to at most `max` characters, ending in "…" when it was cut.
pub fn shortened(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_owned(),
        Some(_) => {
            let keep = text
                .char_indices()
                .nth(max - 1)
                .map_or(text.len(), |(i, _)| i);
            format!("{}…", text[..keep].trim_end())
        }
    }
}

/// Health as a cell shows it: the state, and why when it is not healthy.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CellHealth {
    pub state: HealthState,
    /// Empty when healthy: the reason matters when something is wrong.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// The version the service itself reports, when it differs from the deployed one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reports: Option<String>,
}

impl CellHealth {
    pub fn from_summary(summary: &HealthSummary) -> Self {
        let mismatch = summary
            .reported_version
            .as_ref()
            .filter(|_| summary.expected_version.is_some());
        Self {
            state: summary.state,
            reason: if summary.state == HealthState::Healthy {
                String::new()
            } else {
                shortened(&summary.reason, REASON_CHARS)
            },
            reports: mismatch.cloned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::shortened;

    #[test]
    fn a_long_reason_is_cut_at_a_character_with_an_ellipsis() {
        assert_eq!(shortened("HTTP 500", 60), "HTTP 500");
        assert_eq!(shortened("abcdef", 6), "abcdef");
        assert_eq!(shortened("abcdefg", 6), "abcde…");
        assert_eq!(shortened("ab cdefg", 4), "ab…");
        assert_eq!(shortened("ééééééé", 3), "éé…");
    }
}
