//! Incidents and their timelines.

use async_trait::async_trait;
use flightdeck_app::model::{EnvName, ServiceName, Severity, Timestamp};

use super::StoreError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewIncident {
    pub title: String,
    pub severity: Severity,
    pub environments: Vec<EnvName>,
    /// Empty: every service in those environments.
    pub services: Vec<ServiceName>,
    /// Runbook addresses pinned to the incident page.
    pub runbooks: Vec<String>,
    pub lead: String,
    pub declared_by: String,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentRecord {
    pub id: i64,
    pub title: String,
    pub severity: Severity,
    pub environments: Vec<EnvName>,
    pub services: Vec<ServiceName>,
    pub runbooks: Vec<String>,
    pub lead: String,
    pub declared_by: String,
    pub declared_at: Timestamp,
    pub resolved_at: Option<Timestamp>,
    pub resolved_by: Option<String>,
    pub summary: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    Declared,
    Note,
    Health,
    Deploy,
    Freeze,
    Resolved,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Declared => "declared",
            EntryKind::Note => "note",
            EntryKind::Health => "health",
            EntryKind::Deploy => "deploy",
            EntryKind::Freeze => "freeze",
            EntryKind::Resolved => "resolved",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            EntryKind::Declared,
            EntryKind::Note,
            EntryKind::Health,
            EntryKind::Deploy,
            EntryKind::Freeze,
            EntryKind::Resolved,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// One line of a timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryRecord {
    /// When it happened (a note's may be set back).
    pub at: Timestamp,
    pub kind: EntryKind,
    /// A person, or "flightdeck" for what the console adds.
    pub author: String,
    pub text: String,
}

#[async_trait]
pub trait IncidentStore: Send + Sync {
    /// Opens an incident with its "declared" entry, in one transaction.
    async fn create_incident(&self, new: &NewIncident) -> Result<IncidentRecord, StoreError>;

    async fn incident(&self, id: i64) -> Result<Option<IncidentRecord>, StoreError>;

    /// Every open incident, oldest first.
    async fn open_incidents(&self) -> Result<Vec<IncidentRecord>, StoreError>;

    /// The newest `limit` resolved incidents, newest first.
    async fn past_incidents(&self, limit: u32) -> Result<Vec<IncidentRecord>, StoreError>;

    /// Adds `entry` to incident `id` while it is open; false when it is resolved or unknown.
    async fn add_incident_entry(
        &self,
        id: i64,
        entry: &EntryRecord,
        written_at: Timestamp,
    ) -> Result<bool, StoreError>;

    /// The timeline, in the order things happened.
    async fn incident_entries(&self, id: i64) -> Result<Vec<EntryRecord>, StoreError>;

    /// Resolves an open incident with its summary and a "resolved" entry, in one transaction;
    /// false when it was already resolved (by someone else first) or is unknown.
    async fn resolve_incident(
        &self,
        id: i64,
        by: &str,
        summary: &str,
        at: Timestamp,
    ) -> Result<bool, StoreError>;
}
