//! Incidents as the pages and the API show them: what is open, its scope and its timeline.

use serde::{Deserialize, Serialize};

use super::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Severity {
    #[serde(rename = "SEV1")]
    Sev1,
    #[serde(rename = "SEV2")]
    Sev2,
    #[serde(rename = "SEV3")]
    Sev3,
}

impl Severity {
    pub const ALL: [Severity; 3] = [Severity::Sev1, Severity::Sev2, Severity::Sev3];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Sev1 => "SEV1",
            Severity::Sev2 => "SEV2",
            Severity::Sev3 => "SEV3",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

/// One incident, without its timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentView {
    pub id: i64,
    pub title: String,
    pub severity: Severity,
    pub environments: Vec<String>,
    /// Empty: every service in those environments.
    pub services: Vec<String>,
    pub lead: String,
    pub declared_at: Timestamp,
    pub resolved_at: Option<Timestamp>,
}

impl IncidentView {
    /// "production (all services)", "staging, production: shop-web, orders-api".
    pub fn scope(&self) -> String {
        scope_text(
            self.environments.iter().map(String::as_str),
            self.services.iter().map(String::as_str),
        )
    }
}

/// What an incident or a freeze window covers: "production (all services)" when it names no
/// service, else "staging, production: shop-web, orders-api".
pub fn scope_text<'a>(
    environments: impl IntoIterator<Item = &'a str>,
    services: impl IntoIterator<Item = &'a str>,
) -> String {
    let envs = environments.into_iter().collect::<Vec<_>>().join(", ");
    let services = services.into_iter().collect::<Vec<_>>().join(", ");
    if services.is_empty() {
        format!("{envs} (all services)")
    } else {
        format!("{envs}: {services}")
    }
}

/// `/incidents` and `GET /api/v1/incidents`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentList {
    /// Oldest first.
    pub open: Vec<IncidentView>,
    /// Newest first, the latest 50.
    pub past: Vec<IncidentView>,
    /// Whether the caller may declare one (deployer or higher).
    pub may_declare: bool,
    /// For the declare form.
    pub environments: Vec<String>,
    pub services: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub at: Timestamp,
    /// "declared", "note", "health", "deploy", "freeze", "resolved".
    pub kind: String,
    pub author: String,
    pub text: String,
}

/// A pinned runbook, linked from the top of the incident page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinnedRunbook {
    pub slug: String,
    pub title: String,
}

/// `/incidents/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentPage {
    pub incident: IncidentView,
    pub runbooks: Vec<PinnedRunbook>,
    /// In the order things happened.
    pub timeline: Vec<TimelineEntry>,
    pub summary: Option<String>,
    pub resolved_by: Option<String>,
    /// Whether the caller may add notes and resolve it (deployer or higher).
    pub may_change: bool,
}

/// What declaring an incident takes. Lists are comma-separated in forms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeclareForm {
    pub title: String,
    pub severity: String,
    /// Comma-separated environment names.
    pub environments: String,
    /// Comma-separated service names; empty for all.
    #[serde(default)]
    pub services: String,
    /// Comma-separated runbook addresses to pin.
    #[serde(default)]
    pub runbooks: String,
    /// Who leads it; the declarer when empty.
    #[serde(default)]
    pub lead: String,
}
