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
    /// The person answerable for it (for a token, whoever created the token): the one who
    /// may not approve it.
    pub requester: String,
    pub idempotency_key: String,
    pub at: Timestamp,
    /// Into an environment with `approvals`: the job waits (`awaiting_approval`) instead of
    /// being queued.
    pub approval: Option<ApprovalTerms>,
    /// The freeze it goes through, with the reason ("frozen by incident #3 (…): the fix"),
    /// announced with it.
    pub overridden: Option<String>,
}

/// What a job awaiting approval needs before it runs, and until when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApprovalTerms {
    pub required: u32,
    pub expires_at: Timestamp,
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
    pub requester: String,
    pub idempotency_key: String,
    /// Set when it needed approval.
    pub approval: Option<ApprovalTerms>,
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

/// One releaser's word on a job awaiting approval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDecision {
    pub deployment: DeploymentId,
    /// The person (for a token, its creator): one word per person per job.
    pub person: String,
    /// The caller's name (the account or the token).
    pub by: String,
    pub approved: bool,
    pub comment: String,
    pub at: Timestamp,
    /// The job's reason should this word end the wait (approved by all it needs, or rejected).
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionRecord {
    pub person: String,
    pub by: String,
    pub approved: bool,
    pub comment: String,
    pub at: Timestamp,
}

/// What [`DeployStore::decide`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decided {
    /// Approved, and that was the last approval it needed: queued now.
    Queued(DeploymentRecord),
    /// Approved; it waits for more.
    Waiting(DeploymentRecord),
    Rejected(DeploymentRecord),
    /// It was not awaiting approval (any more): decided, expired, or never needed it.
    NotAwaiting(DeploymentRecord),
    /// This person has already had their word on it.
    AlreadyDecided(DeploymentRecord),
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

    /// Records an approval or a rejection of a job awaiting approval and moves the job on when
    /// that settles it. One transaction, with the job's row locked first, so two approvers at
    /// once count right. `None` when there is no such job.
    async fn decide(&self, decision: &NewDecision) -> Result<Option<Decided>, StoreError>;

    /// The words on a job, oldest first.
    async fn decisions(&self, id: DeploymentId) -> Result<Vec<DecisionRecord>, StoreError>;

    /// Ends every job whose approval time is up by `at` (`expired`, with `reason`), freeing
    /// its lock; returns them. One statement, so each is expired once across consoles.
    async fn expire_approvals(
        &self,
        at: Timestamp,
        reason: &str,
    ) -> Result<Vec<DeploymentRecord>, StoreError>;

    /// When the next job awaiting approval expires, if one does.
    async fn next_approval_expiry(&self) -> Result<Option<Timestamp>, StoreError>;

    /// Every job not in a final state (awaiting approval included).
    async fn unfinished_deployments(&self) -> Result<Vec<DeploymentRecord>, StoreError>;

    /// The jobs of one target, newest first.
    async fn deployments_of(
        &self,
        environment: &EnvName,
        service: &ServiceName,
        limit: u32,
    ) -> Result<Vec<DeploymentRecord>, StoreError>;
}
