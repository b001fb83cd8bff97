//! Deploys as durable jobs: the request, its state, what ran before it, and its step log.
//!
//! The lock (one unfinished deploy per environment and service) and idempotency (one job per
//! caller and key) are unique indexes, so they hold across restarts and across several consoles
//! sharing one PostgreSQL.

use async_trait::async_trait;
use flightdeck_app::model::{DeployKind, DeployState, EnvName, ServiceName, Timestamp};

use super::StoreError;

pub type DeploymentId = i64;

/// A version that can run: the label people use, the exact image reference, and the content
/// digest when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    pub version: String,
    pub image: String,
    pub digest: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDeployment {
    pub environment: EnvName,
    pub service: ServiceName,
    pub kind: DeployKind,
    pub release: Release,
    pub promoted_from: Option<EnvName>,
    pub requested_by: String,
    pub idempotency_key: String,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentRecord {
    pub id: DeploymentId,
    pub environment: EnvName,
    pub service: ServiceName,
    pub kind: DeployKind,
    pub release: Release,
    pub promoted_from: Option<EnvName>,
    pub previous: Option<Release>,
    pub state: DeployState,
    pub reason: String,
    pub requested_by: String,
    pub idempotency_key: String,
    pub created_at: Timestamp,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    pub heartbeat_at: Option<Timestamp>,
}

/// What [`DeployStore::create_deployment`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enqueued {
    /// A new job, queued.
    Created(DeploymentRecord),
    /// The same caller sent the same key before: that job, whatever its state.
    Repeated(DeploymentRecord),
    /// Another unfinished job holds the service in that environment.
    Locked(DeploymentRecord),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepRecord {
    pub at: Timestamp,
    pub message: String,
}

#[async_trait]
pub trait DeployStore: Send + Sync {
    /// Queues a job unless the key was used before or the target is locked.
    async fn create_deployment(&self, new: &NewDeployment) -> Result<Enqueued, StoreError>;

    async fn deployment(&self, id: DeploymentId) -> Result<Option<DeploymentRecord>, StoreError>;

    /// Moves the oldest queued job to `running` and returns it.
    async fn claim_queued(&self, at: Timestamp) -> Result<Option<DeploymentRecord>, StoreError>;

    /// Moves a job from one of `from` to `to` with a reason; false when it was in none of them
    /// (someone else moved it first). A final state sets `finished_at`.
    async fn transition_deployment(
        &self,
        id: DeploymentId,
        from: &[DeployState],
        to: DeployState,
        reason: &str,
        at: Timestamp,
    ) -> Result<bool, StoreError>;

    /// Records what ran before the switch.
    async fn set_previous_release(
        &self,
        id: DeploymentId,
        previous: &Release,
    ) -> Result<(), StoreError>;

    /// The running console's sign that the job is still its own.
    async fn heartbeat(&self, id: DeploymentId, at: Timestamp) -> Result<(), StoreError>;

    /// Takes over the running jobs whose last heartbeat is older than `stale_before` (their
    /// console stopped or died): moves their heartbeat to `at`, so no other console takes them
    /// too, and returns them. Queued jobs are not taken: any console may still claim them.
    async fn take_over_stale(
        &self,
        at: Timestamp,
        stale_before: Timestamp,
    ) -> Result<Vec<DeploymentRecord>, StoreError>;

    /// Gives a job up (this console is shutting down mid-deploy): clears its heartbeat, so the
    /// next console to look takes it over at once instead of after the lease.
    async fn abandon_deployment(&self, id: DeploymentId) -> Result<(), StoreError>;

    async fn add_step(
        &self,
        id: DeploymentId,
        at: Timestamp,
        message: &str,
    ) -> Result<(), StoreError>;

    /// Oldest first.
    async fn steps(&self, id: DeploymentId) -> Result<Vec<StepRecord>, StoreError>;

    /// Every job not in a final state.
    async fn unfinished_deployments(&self) -> Result<Vec<DeploymentRecord>, StoreError>;

    /// The jobs of one target, newest first.
    async fn deployments_of(
        &self,
        environment: &EnvName,
        service: &ServiceName,
        limit: u32,
    ) -> Result<Vec<DeploymentRecord>, StoreError>;
}
