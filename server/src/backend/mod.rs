//! Where services run, and the one way there. One [`Backend`] per environment, made by
//! [`for_environments`]: it observes a service for the health monitor, reads its live state,
//! lists the releases it could run, switches it to another release and back. The monitor, the
//! deploy engine and the views drive every backend the same way: Docker ([`docker`]) and AWS
//! ECS ([`ecs`]), one folder each. Adding a backend is a folder here, a variant of
//! `config::Backend`, a case in [`for_environments`], and the conformance suite in
//! `server/tests/conformance`.

pub mod docker;
pub mod ecs;
pub mod image;

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    sync::Arc,
};

use async_trait::async_trait;
use flightdeck_app::model::{EnvName, HealthState, LogLine, Timestamp};
use futures_util::stream::BoxStream;

use crate::{
    config::{Backend as BackendConfig, Config, TargetKind},
    costs::Footprint,
    store::Release,
};

/// Every environment's backend, by name. Making one contacts nothing (an ECS client resolves
/// credentials and the endpoint on its first call), so an unreachable engine or region cannot
/// hold up the start. The Docker environments share one client per engine address.
pub async fn for_environments(config: &Config) -> HashMap<EnvName, Arc<dyn Backend>> {
    let engines = Arc::new(docker::DockerEngines::default());
    let mut backends: HashMap<EnvName, Arc<dyn Backend>> = HashMap::new();
    for env in &config.environments {
        let backend: Arc<dyn Backend> = match &env.backend {
            BackendConfig::Docker(d) => {
                Arc::new(docker::DockerBackend::new(engines.clone(), d.host.clone()))
            }
            BackendConfig::Ecs(e) => {
                Arc::new(ecs::EcsBackend::new(env.name.clone(), e.clone()).await)
            }
        };
        backends.insert(env.name.clone(), backend);
    }
    backends
}

/// What a health round learns from the backend about one target: what runs and the
/// backend's own verdict on it, in its own words.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// What runs; `None` when the target does not exist.
    pub release: Option<Release>,
    pub state: HealthState,
    /// Why, when not healthy ("container shop is exited (exit code 137)", "1 of 2 tasks
    /// running").
    pub reason: String,
    /// ECS's view of the service (task definition, task counts, deployments) for the service
    /// page; `None` on other backends.
    pub ecs: Option<ecs::EcsServiceState>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// The service's container (or ECS service) is not there.
    #[error("{0}")]
    NotFound(String),
    /// The release cannot be had: not on the host and not pullable.
    #[error("{0}")]
    ReleaseUnavailable(String),
    /// The backend does not answer; nothing is known to have changed.
    #[error("{0}")]
    Unreachable(String),
    /// The backend answered with a failure.
    #[error("{0}")]
    Failed(String),
}

/// What runs now, read from the backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveState {
    pub release: Release,
    pub running: bool,
    /// The backend's own health verdict (`healthy`, `unhealthy`, `starting`), if it has one.
    pub health: Option<String>,
    /// The backend's words for what is wrong or under way ("0 of 2 tasks running", the
    /// HEALTHCHECK's last output, why a rollout failed), for the health gate to quote.
    pub health_reason: Option<String>,
    /// When the running instance started, as the backend reports it (RFC 3339).
    pub started_at: Option<String>,
}

/// What the backend can see of a target's configuration, to show where two environments differ
/// before a promotion. Environment variables by name only: their values may be secrets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuntimeSettings {
    pub env_names: BTreeSet<String>,
    /// Ports the target listens on, as the backend names them (`8080/tcp`).
    pub ports: BTreeSet<String>,
    /// Resource limits by name (`memory`, `CPUs`), worded for people (`512 MiB`, `no limit`).
    pub resources: BTreeMap<String, String>,
}

/// The result of a switch: what ran before, and the backend's handle to bring it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Switched {
    pub previous: Release,
    /// For Docker, the name the previous container was kept under.
    pub kept: String,
}

/// What to read of a target's logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogRequest {
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    /// At most this many lines, the newest of the range.
    pub tail: usize,
    /// The instance the last deploy replaced, which the backend kept, instead of the running one.
    pub previous: bool,
}

/// Lines read from a target's logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogBatch {
    /// What was read: the container (the kept previous one, when asked for) or log group.
    pub source: String,
    /// Oldest first.
    pub lines: Vec<LogLine>,
}

/// New log lines as they are written, oldest first; it ends when the instance stops.
pub type LogFollow = BoxStream<'static, Result<LogLine, BackendError>>;

/// A backend's RFC 3339 time (Docker's has nanoseconds), or `None` when it is not one.
pub fn parse_rfc3339(text: &str) -> Option<Timestamp> {
    let at =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    let millis = i64::try_from(at.unix_timestamp_nanos() / 1_000_000).ok()?;
    Some(Timestamp::from_unix_millis(millis))
}

/// Where progress messages go (the job's step log and its live stream).
pub type Progress<'a> = &'a (dyn Fn(String) + Send + Sync);

#[async_trait]
pub trait Backend: Send + Sync {
    /// "Docker Engine at unix:///var/run/docker.sock", for messages.
    fn describe(&self) -> String;

    /// The backend's own view of the target for the health monitor, read once per round. An
    /// adapter keeps what it needs from one round to the next (a container's restart count).
    async fn observe(&self, target: &TargetKind) -> Result<Observation, BackendError>;

    /// The live state; `Ok(None)` when the target does not exist.
    async fn live(&self, target: &TargetKind) -> Result<Option<LiveState>, BackendError>;

    /// The target's configuration as far as it matters to a promotion; `Ok(None)` when the
    /// target does not exist.
    async fn settings(&self, target: &TargetKind) -> Result<Option<RuntimeSettings>, BackendError>;

    /// What the target runs as far as its cost goes (task sizes and counts, or a container's
    /// limits); `Ok(None)` when the target does not exist.
    async fn footprint(&self, target: &TargetKind) -> Result<Option<Footprint>, BackendError>;

    /// What the target would run after a rollback to `to`, as far as its cost goes. By default
    /// what runs now: a switch keeps the target's settings (Docker copies the container's
    /// limits); a backend that puts back earlier releases whole (ECS) says what those had.
    async fn rollback_footprint(
        &self,
        target: &TargetKind,
        to: &Release,
    ) -> Result<Option<Footprint>, BackendError> {
        let _ = to;
        self.footprint(target).await
    }

    /// Releases the target could switch to without a registry (images on the host of the
    /// same repository), newest first.
    async fn releases(&self, target: &TargetKind) -> Result<Vec<Release>, BackendError>;

    /// Replaces what runs with `to`, keeping the previous instance for [`Backend::restore`].
    /// On failure nothing has changed: the previous release runs as before.
    async fn switch(
        &self,
        target: &TargetKind,
        to: &Release,
        progress: Progress<'_>,
    ) -> Result<Switched, BackendError>;

    /// A rollback to `to`, a release that ran here before. By default a switch like any other;
    /// a backend that keeps earlier releases whole (ECS's task-definition revisions) puts back
    /// the one that ran, with the settings it ran with.
    async fn roll_back_to(
        &self,
        target: &TargetKind,
        to: &Release,
        progress: Progress<'_>,
    ) -> Result<Switched, BackendError> {
        self.switch(target, to, progress).await
    }

    /// Starts what runs again, the same release: Docker restarts the container (its own stop
    /// timeout applies), ECS starts a new deployment of the same task definition. Returns the
    /// release that runs. The caller's health gate decides whether it came back.
    async fn restart(
        &self,
        target: &TargetKind,
        progress: Progress<'_>,
    ) -> Result<Release, BackendError>;

    /// Undoes a switch: the kept previous instance runs again and the new one is removed.
    async fn restore(
        &self,
        target: &TargetKind,
        switched: &Switched,
        progress: Progress<'_>,
    ) -> Result<(), BackendError>;

    /// At start, for a deploy the console was killed in the middle of: when the switch was cut
    /// short and nothing runs (the old instance stopped, the new one never started), brings the
    /// previous instance back. Says what it did; `None` when there was nothing to repair
    /// (whatever runs is left running: the operator decides about an unverified release).
    async fn repair(
        &self,
        target: &TargetKind,
        progress: Progress<'_>,
    ) -> Result<Option<String>, BackendError>;

    /// Whether this backend is handed only an image reference to pull (ECS), rather than
    /// checking what it pulled against the release's digest itself (Docker compares image IDs
    /// after pulling). A promotion to such a backend is pinned to a registry digest first,
    /// with the source's [`Backend::pullable`].
    fn pulls_by_reference(&self) -> bool {
        false
    }

    /// A reference that pulls exactly `release`, which this backend runs for `target`, from
    /// its registry: `repository:tag@sha256:…`. `Ok(None)` when there is none, such as an
    /// image built on a Docker host and never pushed.
    async fn pullable(
        &self,
        target: &TargetKind,
        release: &Release,
    ) -> Result<Option<String>, BackendError>;

    /// The target's log lines in the request's range, oldest first: at most `tail`, the newest.
    /// Not redacted: [`crate::logs`] masks secrets before any line leaves the console.
    async fn logs(
        &self,
        target: &TargetKind,
        request: &LogRequest,
    ) -> Result<LogBatch, BackendError>;

    /// The running instance's lines from `since` on, then each new one as it is written.
    async fn follow_logs(
        &self,
        target: &TargetKind,
        since: Timestamp,
    ) -> Result<LogFollow, BackendError>;

    /// After a successful deploy: keeps the newest `keep` previous instances, removes older.
    async fn prune(
        &self,
        target: &TargetKind,
        keep: usize,
        progress: Progress<'_>,
    ) -> Result<(), BackendError>;
}
