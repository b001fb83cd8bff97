use std::{collections::HashMap, sync::Arc, time::Duration};

use flightdeck_app::model::{DeployKind, DeployState, EnvName, ServiceName, Timestamp};
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

use super::gate::{self, GateSettings};
use crate::{
    backend::{Backend, BackendError},
    config::{Config, DeploySettings, Target},
    health::{ProbeSettings, Prober},
    store::{
        ActorKind, AuditEntry, DeploymentId, DeploymentRecord, Enqueued, NewDeployment, Outcome,
        Release, Store, StoreError, VersionObservation, VersionSource,
    },
};

/// How often a running job's heartbeat is written.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error("{0}")]
    NotFound(String),
    /// Another deploy holds the lock.
    #[error("deploy #{id} by {by} is in progress for {service} in {environment}")]
    Busy {
        id: i64,
        by: String,
        environment: EnvName,
        service: ServiceName,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub struct DeployRequest {
    pub environment: EnvName,
    pub service: ServiceName,
    pub kind: DeployKind,
    pub release: Release,
    pub promoted_from: Option<EnvName>,
    pub requested_by: String,
    pub idempotency_key: String,
}

pub struct DeployEngine {
    config: Arc<Config>,
    store: Arc<dyn Store>,
    backends: HashMap<EnvName, Arc<dyn Backend>>,
    prober: Prober,
    settings: DeploySettings,
    wake: Notify,
    /// Counts recorded steps and state changes: the live deploy pages wait on it instead of
    /// asking the store over and over.
    changes: watch::Sender<u64>,
}

impl DeployEngine {
    pub fn new(
        config: Arc<Config>,
        store: Arc<dyn Store>,
        backends: HashMap<EnvName, Arc<dyn Backend>>,
        settings: DeploySettings,
    ) -> Result<Self, reqwest::Error> {
        let prober = Prober::new(ProbeSettings {
            timeout: config.health.timeout,
            slow_after: config.health.slow_after,
            ..ProbeSettings::default()
        })?;
        Ok(Self {
            config,
            store,
            backends,
            prober,
            settings,
            wake: Notify::new(),
            changes: watch::Sender::new(0),
        })
    }

    /// Changes whenever a step of any deploy has been recorded or its state changed.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    fn target(&self, env: &EnvName, service: &ServiceName) -> Option<(&Target, u32)> {
        let s = self.config.service(service.as_str())?;
        let target = s.targets.get(env)?;
        Some((target, self.config.down_after_failures(s)))
    }

    fn backend(&self, env: &EnvName) -> Option<&Arc<dyn Backend>> {
        self.backends.get(env)
    }

    /// Queues a deploy and returns it with `true`; a repeated key returns the first job with
    /// `false`; a held lock is [`DeployError::Busy`].
    pub async fn request(
        &self,
        request: DeployRequest,
    ) -> Result<(DeploymentRecord, bool), DeployError> {
        if self
            .target(&request.environment, &request.service)
            .is_none()
            || self.backend(&request.environment).is_none()
        {
            return Err(DeployError::NotFound(format!(
                "{} does not run in {} (see flightdeck.toml)",
                request.service, request.environment
            )));
        }
        let new = NewDeployment {
            environment: request.environment,
            service: request.service,
            kind: request.kind,
            release: request.release,
            promoted_from: request.promoted_from,
            requested_by: request.requested_by,
            idempotency_key: request.idempotency_key,
            at: Timestamp::now(),
        };
        match self.store.create_deployment(&new).await? {
            Enqueued::Created(job) => {
                self.step(&job, format!("Queued by {}", job.requested_by))
                    .await;
                self.wake.notify_one();
                Ok((job, true))
            }
            Enqueued::Repeated(job) => Ok((job, false)),
            Enqueued::Locked(holder) => Err(DeployError::Busy {
                id: holder.id,
                by: holder.requested_by,
                environment: holder.environment,
                service: holder.service,
            }),
        }
    }

    /// At start: no job is left running. Each unfinished one ends `interrupted`, and the
    /// target's real state is read from the backend and recorded.
    pub async fn recover(&self) -> Result<usize, StoreError> {
        let unfinished = self.store.unfinished_deployments().await?;
        for job in &unfinished {
            self.repair(job).await;
            let found = self.read_back(job).await;
            let reason = format!(
                "the console stopped while this deploy was {}; {found}",
                job.state.label().to_lowercase()
            );
            self.finish(job, DeployState::Interrupted, &reason).await;
            tracing::warn!(id = job.id, env = %job.environment, service = %job.service, "{reason}");
        }
        Ok(unfinished.len())
    }

    /// Puts back a target a cut-short switch left with nothing running; logs it as a step.
    async fn repair(&self, job: &DeploymentRecord) {
        let (Some(backend), Some((target, _))) = (
            self.backend(&job.environment),
            self.target(&job.environment, &job.service),
        ) else {
            return;
        };
        let (lines, mut received) = tokio::sync::mpsc::unbounded_channel::<String>();
        let log = |line: String| {
            let _ = lines.send(line);
        };
        let repair = backend.repair(&target.kind, &log);
        match self.while_logging(job, repair, &mut received).await {
            Ok(Some(done)) => self.step(job, done).await,
            Ok(None) => {}
            Err(e) => {
                self.step(job, format!("Could not put the previous release back: {e}"))
                    .await;
            }
        }
    }

    /// Reads what runs now and records it; says what was found.
    async fn read_back(&self, job: &DeploymentRecord) -> String {
        let (Some(backend), Some((target, _))) = (
            self.backend(&job.environment),
            self.target(&job.environment, &job.service),
        ) else {
            return "the target is no longer configured".to_owned();
        };
        match backend.live(&target.kind).await {
            Ok(Some(live)) => {
                let obs = VersionObservation {
                    environment: job.environment.clone(),
                    service: job.service.clone(),
                    version: live.release.version.clone(),
                    image: live.release.image.clone(),
                    digest: live.release.digest.clone(),
                    source: VersionSource::Observed,
                    at: Timestamp::now(),
                };
                if let Err(e) = self.store.record_version(&obs).await {
                    tracing::warn!(error = %e, "cannot record the version found running");
                }
                format!(
                    "{} ({}) is running{}",
                    live.release.version,
                    live.release.image,
                    if live.running { "" } else { " but stopped" }
                )
            }
            Ok(None) => format!("nothing runs as {}", target.kind.label()),
            Err(e) => format!("what runs could not be read: {e}"),
        }
    }

    /// Claims and runs queued jobs until `stopping` is cancelled.
    pub async fn run(self: Arc<Self>, stopping: CancellationToken) {
        loop {
            match self.store.claim_queued(Timestamp::now()).await {
                Ok(Some(job)) => {
                    // Claimed: queued -> running.
                    self.announce();
                    let this = self.clone();
                    let id = job.id;
                    // Its own task: a panic fails this job, not the worker.
                    let mut worker = tokio::spawn(async move { this.execute(job).await });
                    tokio::select! {
                        () = stopping.cancelled() => {
                            // Left running on purpose: the next start marks it interrupted
                            // after reading the real state back.
                            worker.abort();
                            return;
                        }
                        joined = &mut worker => if let Err(e) = joined {
                            tracing::error!(id, error = %e, "a deploy task failed");
                            let _ = self.transition(
                                id, &DeployState::UNFINISHED, DeployState::Failed,
                                "internal error while deploying; see the console's log",
                            ).await;
                        },
                    }
                }
                Ok(None) => {
                    tokio::select! {
                        () = stopping.cancelled() => return,
                        () = self.wake.notified() => {}
                        () = tokio::time::sleep(Duration::from_secs(2)) => {}
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read queued deploys");
                    tokio::select! {
                        () = stopping.cancelled() => return,
                        () = tokio::time::sleep(Duration::from_secs(5)) => {}
                    }
                }
            }
        }
    }

    async fn step(&self, job: &DeploymentRecord, message: String) {
        tracing::info!(id = job.id, env = %job.environment, service = %job.service, "{message}");
        if let Err(e) = self
            .store
            .add_step(job.id, Timestamp::now(), &message)
            .await
        {
            tracing::warn!(error = %e, "cannot record a deploy step");
        }
        self.announce();
    }

    /// Changes a job's state (see [`Store::transition_deployment`]) and tells the live pages.
    async fn transition(
        &self,
        id: DeploymentId,
        from: &[DeployState],
        to: DeployState,
        reason: &str,
    ) -> Result<bool, StoreError> {
        let changed = self
            .store
            .transition_deployment(id, from, to, reason, Timestamp::now())
            .await;
        self.announce();
        changed
    }

    /// Wakes whoever follows deploys live: a step was recorded or a state changed.
    fn announce(&self) {
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    async fn finish(&self, job: &DeploymentRecord, to: DeployState, reason: &str) {
        self.step(
            job,
            format!(
                "{}{}",
                to.label(),
                if reason.is_empty() {
                    String::new()
                } else {
                    format!(": {reason}")
                }
            ),
        )
        .await;
        if let Err(e) = self
            .transition(job.id, &DeployState::UNFINISHED, to, reason)
            .await
        {
            tracing::error!(id = job.id, error = %e, "cannot record how a deploy ended");
        }
        // The request was audited with its actor; how it ended is the console's own entry.
        let entry = AuditEntry {
            at: Timestamp::now(),
            actor: "flightdeck".to_owned(),
            actor_kind: ActorKind::System,
            source: "127.0.0.1".to_owned(),
            action: format!("deploy.{}", to.as_str()),
            target: job.service.to_string(),
            environment: Some(job.environment.to_string()),
            outcome: if to == DeployState::Succeeded {
                Outcome::Success
            } else {
                Outcome::Failure
            },
            details: format!(
                "#{}: {} ({}) requested by {}{}",
                job.id,
                job.release.version,
                job.release.image,
                job.requested_by,
                if reason.is_empty() {
                    String::new()
                } else {
                    format!("; {reason}")
                }
            ),
        };
        if let Err(e) = self.store.append_audit(&entry).await {
            tracing::error!(id = job.id, error = %e, "cannot audit how a deploy ended");
        }
    }

    async fn execute(&self, job: DeploymentRecord) {
        let heartbeat = {
            let store = self.store.clone();
            let every = HEARTBEAT_EVERY;
            let id = job.id;
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(every).await;
                    let _ = store.heartbeat(id, Timestamp::now()).await;
                }
            })
        };
        self.execute_steps(&job).await;
        heartbeat.abort();
    }

    async fn execute_steps(&self, job: &DeploymentRecord) {
        let (Some(backend), Some((target, failures_to_fail))) = (
            self.backend(&job.environment).cloned(),
            self.target(&job.environment, &job.service),
        ) else {
            self.finish(
                job,
                DeployState::Failed,
                "the target is no longer configured",
            )
            .await;
            return;
        };
        self.step(
            job,
            format!(
                "Deploying {} to {} in {} on the {}",
                job.release.image,
                job.service,
                job.environment,
                backend.describe()
            ),
        )
        .await;

        // Progress lines from the backend go to the step log as they happen.
        let (lines, mut received) = tokio::sync::mpsc::unbounded_channel::<String>();
        let log = |line: String| {
            let _ = lines.send(line);
        };
        let switching = match job.kind {
            DeployKind::Rollback => backend.roll_back_to(&target.kind, &job.release, &log),
            DeployKind::Deploy | DeployKind::Promote => {
                backend.switch(&target.kind, &job.release, &log)
            }
        };
        let switched = self.while_logging(job, switching, &mut received).await;
        let switched = match switched {
            Ok(s) => s,
            Err(e) => {
                let reason = match e {
                    BackendError::Unreachable(_) => {
                        format!("{e}; the previous version was left as it was")
                    }
                    _ => format!("{e}; the previous version keeps running"),
                };
                self.finish(job, DeployState::Failed, &reason).await;
                return;
            }
        };
        if let Err(e) = self
            .store
            .set_previous_release(job.id, &switched.previous)
            .await
        {
            tracing::warn!(error = %e, "cannot record the previous release");
        }
        let _ = self
            .transition(job.id, &[DeployState::Running], DeployState::Verifying, "")
            .await;

        let settings = GateSettings {
            bake: self.settings.bake,
            deadline: self.settings.deadline,
            failures_to_fail,
        };
        let gate = gate::watch(
            backend.as_ref(),
            &target.kind,
            &job.release,
            target.health_url.as_ref(),
            &self.prober,
            settings,
            &log,
        );
        let verdict = self.while_logging(job, gate, &mut received).await;
        match verdict {
            Ok(()) => {
                let prune = backend.prune(&target.kind, self.settings.keep_previous, &log);
                if let Err(e) = self.while_logging(job, prune, &mut received).await {
                    self.step(job, format!("Could not remove old instances: {e}"))
                        .await;
                }
                self.record_deployed(job).await;
                self.finish(job, DeployState::Succeeded, "").await;
            }
            Err(reason) => {
                self.step(job, format!("Rolling back to {}", switched.previous.image))
                    .await;
                let restore = backend.restore(&target.kind, &switched, &log);
                match self.while_logging(job, restore, &mut received).await {
                    Ok(()) => {
                        let why = format!(
                            "{} failed its health gate ({reason}); {} runs again",
                            job.release.version, switched.previous.version
                        );
                        self.finish(job, DeployState::RolledBack, &why).await;
                    }
                    Err(e) => {
                        let why = format!(
                            "{} failed its health gate ({reason}) and the rollback failed: {e}",
                            job.release.version
                        );
                        self.finish(job, DeployState::Failed, &why).await;
                    }
                }
            }
        }
    }

    /// Runs `work` while writing the progress lines it sends to the step log.
    async fn while_logging<T>(
        &self,
        job: &DeploymentRecord,
        work: impl std::future::Future<Output = T>,
        received: &mut tokio::sync::mpsc::UnboundedReceiver<String>,
    ) -> T {
        tokio::pin!(work);
        loop {
            tokio::select! {
                biased;
                Some(line) = received.recv() => self.step(job, line).await,
                result = &mut work => {
                    while let Ok(line) = received.try_recv() {
                        self.step(job, line).await;
                    }
                    return result;
                }
            }
        }
    }

    async fn record_deployed(&self, job: &DeploymentRecord) {
        let (Some(backend), Some((target, _))) = (
            self.backend(&job.environment),
            self.target(&job.environment, &job.service),
        ) else {
            return;
        };
        let release = match backend.live(&target.kind).await {
            Ok(Some(live)) => live.release,
            _ => job.release.clone(),
        };
        let obs = VersionObservation {
            environment: job.environment.clone(),
            service: job.service.clone(),
            version: release.version,
            image: release.image,
            digest: release.digest,
            source: VersionSource::Deployed,
            at: Timestamp::now(),
        };
        if let Err(e) = self.store.record_version(&obs).await {
            tracing::warn!(error = %e, "cannot record the deployed version");
        }
    }
}
