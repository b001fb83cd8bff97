//! Durable state: what happened (versions seen, and later deploys, sessions, audit).
//!
//! One [`Store`] trait is what the rest of the server uses. [`SqlStore`] implements it for both
//! SQLite (the embedded default) and PostgreSQL (for teams that run several consoles or already
//! operate a PostgreSQL server), chosen by the URL scheme. The SQL is written once in the portable
//! subset both understand (`$1` parameters, `RETURNING`, window functions); each database has its
//! own migrations folder because their DDL differs.

mod access;
mod deploy;
mod error;
mod health;
mod lease;
mod sql;
mod url;

use async_trait::async_trait;
use flightdeck_app::model::{EnvName, Role, ServiceName, Timestamp};

use crate::auth::{PasswordHash, SecretDigest};

pub use access::{
    ActorKind, AuditEntry, AuditQuery, AuditRecord, Failures, NewToken, NewUser, Outcome,
    SessionRecord, TokenId, TokenRecord, UserId, UserRecord,
};
pub use deploy::{
    DeployStore, DeploymentId, DeploymentRecord, Enqueued, NewDeployment, Release, StepRecord,
};
pub use error::{OpenError, StoreError};
pub use health::{
    HealthSample, HealthStore, HealthTotals, HealthTransitionRecord, LatencyStats, Resolution,
};
pub use lease::LeaseStore;
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

#[async_trait]
pub trait Store: HealthStore + DeployStore + LeaseStore + Send + Sync + 'static {
    /// "sqlite data/flightdeck.db" or "postgres db.example:5432/flightdeck", without secrets.
    fn describe(&self) -> &str;

    /// Answers when the database does: used by `/readyz`.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Records that `obs` runs; starts a new period only when the version changed.
    async fn record_version(&self, obs: &VersionObservation) -> Result<Recorded, StoreError>;

    /// The newest record of every (environment, service) pair known.
    async fn current_versions(&self) -> Result<Vec<VersionRecord>, StoreError>;

    /// The newest `limit` records of one service in one environment, newest first.
    async fn version_history(
        &self,
        environment: &EnvName,
        service: &ServiceName,
        limit: u32,
    ) -> Result<Vec<VersionRecord>, StoreError>;

    // --- accounts -------------------------------------------------------------------------

    async fn count_users(&self) -> Result<u64, StoreError>;

    /// Fails with [`StoreError::Duplicate`] when the name is taken.
    async fn create_user(&self, user: &NewUser) -> Result<UserId, StoreError>;

    async fn user_by_name(&self, name: &str) -> Result<Option<UserRecord>, StoreError>;

    async fn user_by_id(&self, id: UserId) -> Result<Option<UserRecord>, StoreError>;

    /// Every account, by name.
    async fn list_users(&self) -> Result<Vec<UserRecord>, StoreError>;

    /// Disables (ending every session of the account, in the same transaction) or enables.
    /// Returns false when no such account exists.
    async fn set_user_disabled(&self, id: UserId, disabled: bool) -> Result<bool, StoreError>;

    /// Sets a new password hash and ends every session of the account.
    async fn set_password(&self, id: UserId, hash: &PasswordHash) -> Result<bool, StoreError>;

    async fn set_role(&self, id: UserId, role: Role) -> Result<bool, StoreError>;

    async fn record_login(&self, id: UserId, at: Timestamp) -> Result<(), StoreError>;

    // --- sessions -------------------------------------------------------------------------

    async fn create_session(&self, session: &SessionRecord) -> Result<(), StoreError>;

    /// The session and its account, whatever their state; the caller checks expiry and
    /// `disabled`.
    async fn session(
        &self,
        id: &SecretDigest,
    ) -> Result<Option<(SessionRecord, UserRecord)>, StoreError>;

    /// Moves the session's last activity forward.
    async fn touch_session(&self, id: &SecretDigest, at: Timestamp) -> Result<(), StoreError>;

    /// Returns false when there was no such session.
    async fn delete_session(&self, id: &SecretDigest) -> Result<bool, StoreError>;

    /// The sessions of one account, newest first.
    async fn user_sessions(&self, user: UserId) -> Result<Vec<SessionRecord>, StoreError>;

    /// Removes sessions whose absolute end or idle deadline has passed.
    async fn delete_expired_sessions(
        &self,
        now: Timestamp,
        idle_before: Timestamp,
    ) -> Result<u64, StoreError>;

    // --- sign-in throttling ---------------------------------------------------------------

    async fn failures(&self, key: &str) -> Result<Option<Failures>, StoreError>;

    /// Counts one more failure under `key`. A count whose last failure is older than
    /// `stale_before` starts again at 1. Returns the new count.
    async fn add_failure(
        &self,
        key: &str,
        at: Timestamp,
        stale_before: Timestamp,
    ) -> Result<Failures, StoreError>;

    async fn clear_failures(&self, key: &str) -> Result<(), StoreError>;

    // --- API tokens -----------------------------------------------------------------------

    /// Fails with [`StoreError::Duplicate`] when the name is taken.
    async fn create_token(&self, token: &NewToken) -> Result<TokenId, StoreError>;

    /// The token with this digest, revoked or not.
    async fn token_by_digest(
        &self,
        digest: &SecretDigest,
    ) -> Result<Option<TokenRecord>, StoreError>;

    async fn list_tokens(&self) -> Result<Vec<TokenRecord>, StoreError>;

    /// Returns false when the token does not exist or was already revoked.
    async fn revoke_token(&self, id: TokenId, at: Timestamp) -> Result<bool, StoreError>;

    async fn touch_token(&self, id: TokenId, at: Timestamp) -> Result<(), StoreError>;

    // --- audit log (append-only: there is no update or delete) --------------------------------

    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError>;

    /// Matching entries, newest first.
    async fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError>;

    /// Closes the connections, waiting for queries under way. Called on shutdown.
    async fn close(&self);
}

/// Opens the database at `url` (`sqlite://PATH` or `postgres://…`), creating a SQLite file if
/// missing, and applies pending migrations. Any failure is reported with the (redacted) URL.
pub async fn open(url: &str) -> Result<SqlStore, OpenError> {
    SqlStore::open(url).await
}
