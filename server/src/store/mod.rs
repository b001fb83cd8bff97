//! Durable state: versions seen, accounts and the audit log, health history, deploys, leases,
//! measured costs, incidents.
//!
//! One [`Store`] trait is what the rest of the server uses: one trait per area
//! ([`AccessStore`], [`HealthStore`], [`DeployStore`], [`LeaseStore`], [`CostStore`],
//! [`IncidentStore`]) and the versions seen. [`SqlStore`] implements it for both
//! SQLite (the embedded default) and PostgreSQL (for teams that run several consoles or already
//! operate a PostgreSQL server), chosen by the URL scheme. The SQL is written once in the portable
//! subset both understand (`$1` parameters, `RETURNING`, window functions); each database has its
//! own migrations folder because their DDL differs.

mod access;
mod costs;
mod deploy;
mod error;
pub mod events;
mod health;
mod incidents;
mod kept;
mod lease;
mod notify;
mod secrets;
mod sql;
mod url;

use async_trait::async_trait;
use flightdeck_app::model::{EnvName, ServiceName, Timestamp};

pub use access::{
    AccessStore, ActorKind, AuditEntry, AuditQuery, AuditRecord, Failures, NewToken, NewUser,
    Outcome, SessionRecord, TokenId, TokenRecord, UserId, UserRecord,
};
pub use costs::{AwsBudget, BudgetCrossing, CostDay, CostFetch, CostStore};
pub use deploy::{
    ApprovalTerms, Decided, DecisionRecord, DeployStore, DeploymentId, DeploymentRecord, Enqueued,
    NewDecision, NewDeployment, Release, StepRecord,
};
pub use error::{OpenError, StoreError};
pub use health::{
    HealthSample, HealthStore, HealthTotals, HealthTransitionRecord, LatencyStats, Resolution,
};
pub use incidents::{EntryKind, EntryRecord, IncidentRecord, IncidentStore, NewIncident};
pub use kept::{Current, KeptReads};
pub use lease::{LeaseStore, lease_holder};
pub use notify::{Attempt, DeliveryRecord, DeliveryState, EventRecord, NewEvent, NotifyStore};
pub use secrets::{PasswordHash, SecretDigest};
pub use sql::SqlStore;
pub use url::redact_url;

/// How the console learned about a version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionSource {
    /// Read from the backend (container image, ECS task definition).
    Observed,
    /// Put there by a deploy of this console.
    Deployed,
}

impl VersionSource {
    pub fn as_str(self) -> &'static str {
        match self {
            VersionSource::Observed => "observed",
            VersionSource::Deployed => "deployed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "observed" => Some(VersionSource::Observed),
            "deployed" => Some(VersionSource::Deployed),
            _ => None,
        }
    }
}

/// A version seen running in one environment at one time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionObservation {
    pub environment: EnvName,
    pub service: ServiceName,
    pub version: String,
    pub image: String,
    pub digest: Option<String>,
    pub source: VersionSource,
    pub at: Timestamp,
}

/// A period during which one version ran in one environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionRecord {
    pub environment: EnvName,
    pub service: ServiceName,
    pub version: String,
    pub image: String,
    pub digest: Option<String>,
    pub source: VersionSource,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
}

/// What [`Store::record_version`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// The version differs from the last one recorded: a new period starts.
    NewVersion,
    /// Same version as before: only its last-seen time moved.
    StillRunning,
}

/// Counts that move with every change, made by any console on the database, in the transaction
/// that makes it: what a reader reads after a count is at least that new, so it may keep it
/// until the count moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChangeCounts {
    /// Moves with every new version period; extending a period (`last_seen`) does not.
    pub versions: i64,
    /// Moves with every change to any deployment, its heartbeat included (kept by triggers).
    pub deployments: i64,
    /// Moves with every change to any incident record; timeline entries do not move it.
    pub incidents: i64,
}

#[async_trait]
pub trait Store:
    AccessStore
    + HealthStore
    + DeployStore
    + LeaseStore
    + CostStore
    + IncidentStore
    + NotifyStore
    + Send
    + Sync
    + 'static
{
    /// "sqlite data/flightdeck.db" or "postgres db.example:5432/flightdeck", without secrets.
    fn describe(&self) -> &str;

    /// Answers when the database does: used by `/readyz`.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Records that `obs` runs; starts a new period only when the version changed.
    async fn record_version(&self, obs: &VersionObservation) -> Result<Recorded, StoreError>;

    /// The newest record of every (environment, service) pair known.
    async fn current_versions(&self) -> Result<Vec<VersionRecord>, StoreError>;

    /// The counts of changes, read together: see `ChangeCounts`.
    async fn change_counts(&self) -> Result<ChangeCounts, StoreError>;

    /// The newest `limit` records of one service in one environment, newest first.
    async fn version_history(
        &self,
        environment: &EnvName,
        service: &ServiceName,
        limit: u32,
    ) -> Result<Vec<VersionRecord>, StoreError>;

    /// Closes the connections, waiting for queries under way. Called on shutdown.
    async fn close(&self);
}

/// Opens the database at `url` (`sqlite://PATH` or `postgres://…`), creating a SQLite file if
/// missing, and applies pending migrations. Any failure is reported with the (redacted) URL.
pub async fn open(url: &str) -> Result<SqlStore, OpenError> {
    SqlStore::open(url).await
}
