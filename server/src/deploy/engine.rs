use std::{collections::HashMap, sync::Arc, time::Duration};

use flightdeck_app::model::{DeployKind, DeployState, EnvName, ServiceName, Timestamp};
use tokio::{
    sync::{Notify, watch},
    task::JoinSet,
};
use tokio_util::{sync::CancellationToken, task::AbortOnDropHandle};

use super::gate::{self, GateSettings};
use crate::{
    backend::{Backend, BackendError},
    clock::{Clock, SystemClock},
    config::{Config, DeploySettings, Target},
    health::{ProbeSettings, Prober},
    incidents::timeline,
    store::{
        AuditEntry, Decided, DeploymentId, DeploymentRecord, Enqueued, EntryKind, NewDecision,
        NewDeployment, Outcome, Store, StoreError, VersionObservation, VersionSource,
    },
};

#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error("{0}")]
    NotFound(String),
    /// Another deploy holds the lock.
    #[error("deploy #{id} by {by} is {} for {service} in {environment}", holding(*.state))]
    Busy {
        id: i64,
        by: String,
        state: DeployState,
        environment: EnvName,
        service: ServiceName,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
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
    clock: Arc<dyn Clock>,
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
            clock: Arc::new(SystemClock),
        })
    }

    /// The clock approval times are read from (tests hand in a manual one).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The store the engine keeps its jobs in (deploy requests read the open incidents there).
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
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
        request: NewDeployment,
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
        match self.store.create_deployment(&request).await? {
            Enqueued::Created(job) => {
                let step = match job.approval {
                    None => format!("Queued by {}", job.requested_by),
                    Some(terms) => format!(
                        "Requested by {}; waits for {} until {}",
                        job.requested_by,
                        approvers(terms.required, &job.requester),
                        flightdeck_app::time_format::utc(terms.expires_at)
                    ),
                };
                self.step(&job, step).await;
                self.wake.notify_one();
                Ok((job, true))
            }
            Enqueued::Repeated(job) => Ok((job, false)),
            Enqueued::Locked(holder) => Err(DeployError::Busy {
                id: holder.id,
                by: holder.requested_by,
                state: holder.state,
                environment: holder.environment,
                service: holder.service,
            }),
        }
    }

    /// Takes over the deploys whose console stopped heartbeating more than a lease before
    /// `now` (it was killed, or shut down mid-deploy): each ends `interrupted`, and the
    /// target's real state is read from the backend and recorded. A job whose console is alive
    /// is left alone, so consoles sharing a database never interrupt each other. The worker
    /// calls this every heartbeat; start-up calls it once before serving.
    pub async fn take_over_stale(&self, now: Timestamp) -> Result<usize, StoreError> {
        let lease = i64::try_from(self.settings.lease.as_millis()).unwrap_or(i64::MAX);
        let stale_before = Timestamp::from_unix_millis(now.unix_millis().saturating_sub(lease));
        let stale = self.store.take_over_stale(now, stale_before).await?;
        for job in &stale {
            // Ours now: keep it so while the backend is asked, which may take a while.
            let _heartbeat = self.heartbeat(job.id);
            self.repair(job).await;
            let found = self.read_back(job).await;
            let reason = format!(
                "the console stopped while this deploy was {}; {found}",
                job.state.label().to_lowercase()
            );
            self.finish(job, DeployState::Interrupted, &reason).await;
            tracing::warn!(id = job.id, env = %job.environment, service = %job.service, "{reason}");
        }
        Ok(stale.len())
    }

    /// Writes the job's heartbeat every third of the lease until the handle is dropped.
    fn heartbeat(&self, id: DeploymentId) -> AbortOnDropHandle<()> {
        let store = self.store.clone();
        let every = self.settings.heartbeat();
        AbortOnDropHandle::new(tokio::spawn(async move {
            // The claim (or take-over) wrote the first one.
            let mut beats = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            loop {
                beats.tick().await;
                if let Err(e) = store.heartbeat(id, Timestamp::now()).await {
                    tracing::warn!(id, error = %e, "cannot write a deploy's heartbeat");
                }
            }
        }))
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

    /// Claims and runs queued jobs, up to `[deploy] parallel` at a time, and takes over the
    /// jobs of consoles that stopped, until `stopping` is cancelled. Jobs of one service in one
    /// environment never overlap: the store's lock allows one unfinished job per pair.
    pub async fn run(self: Arc<Self>, stopping: CancellationToken) {
        let mut running = JoinSet::new();
        let mut jobs: HashMap<tokio::task::Id, DeploymentId> = HashMap::new();
        // Start-up has just looked (`take_over_stale` before serving): the first look is one
        // heartbeat from now.
        let every = self.settings.heartbeat();
        let mut take_over = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        take_over.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            if stopping.is_cancelled() {
                break;
            }
            let mut retry_after = Duration::from_secs(2);
            // Every round, so a request expires within a round of its time on any console.
            if let Err(e) = self.expire_approvals().await {
                tracing::warn!(error = %e, "cannot expire requests awaiting approval");
            }
            while running.len() < self.settings.parallel {
                match self.store.claim_queued(Timestamp::now()).await {
                    Ok(Some(job)) => {
                        // Claimed: queued -> running.
                        self.announce();
                        let this = self.clone();
                        let id = job.id;
                        // Its own task: a panic fails this job, not the worker.
                        let task = running.spawn(async move { this.execute(job).await });
                        jobs.insert(task.id(), id);
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot read queued deploys");
                        retry_after = Duration::from_secs(5);
                        break;
                    }
                }
            }
            tokio::select! {
                () = stopping.cancelled() => break,
                Some(joined) = running.join_next_with_id(), if !running.is_empty() => {
                    self.reap(joined, &mut jobs).await;
                }
                () = self.wake.notified() => {}
                _ = take_over.tick() => {
                    if let Err(e) = self.take_over_stale(Timestamp::now()).await {
                        tracing::warn!(error = %e, "cannot look for abandoned deploys");
                    }
                }
                () = tokio::time::sleep(retry_after) => {}
            }
        }
        // Shutting down: the jobs under way are abandoned, not finished. Their heartbeat is
        // cleared so whichever console looks next (another one, or this one restarted) takes
        // them over at once, reads the real state back and says so.
        running.abort_all();
        while running.join_next().await.is_some() {}
        for id in jobs.into_values() {
            if let Err(e) = self.store.abandon_deployment(id).await {
                tracing::warn!(id, error = %e, "cannot give up a deploy on shutdown");
            }
        }
    }

    /// A job's task ended: forgets it, and fails the job if the task panicked.
    async fn reap(
        &self,
        joined: Result<(tokio::task::Id, ()), tokio::task::JoinError>,
        jobs: &mut HashMap<tokio::task::Id, DeploymentId>,
    ) {
        let (task, error) = match joined {
            Ok((task, ())) => (task, None),
            Err(e) => (e.id(), Some(e)),
        };
        let Some(id) = jobs.remove(&task) else {
            return;
        };
        if let Some(e) = error {
            tracing::error!(id, error = %e, "a deploy task failed");
            let _ = self
                .transition(
                    id,
                    &DeployState::UNDER_WAY,
                    DeployState::Failed,
                    "internal error while deploying; see the console's log",
                )
                .await;
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
        // The step before the state: a page closes its stream once the state is final.
        self.step(job, ending_step(to, reason)).await;
        if let Err(e) = self
            .transition(job.id, &DeployState::UNDER_WAY, to, reason)
            .await
        {
            tracing::error!(id = job.id, error = %e, "cannot record how a deploy ended");
        }
        self.record_end(job, to, reason).await;
    }

    /// Puts how a job ended on the timeline of an incident in scope and in the audit log.
    async fn record_end(&self, job: &DeploymentRecord, to: DeployState, reason: &str) {
        // The request was audited with its actor; how it ended is the console's own entry.
        let details = format!(
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
        );
        // On the timeline of an incident in whose scope it ran: how it ended.
        timeline::record(
            self.store.as_ref(),
            &job.environment,
            &job.service,
            EntryKind::Deploy,
            timeline::CONSOLE,
            &format!(
                "{} #{} of {} ({}): {}{}",
                job.kind.as_str(),
                job.id,
                job.service,
                job.release.version,
                to.label().to_lowercase(),
                if reason.is_empty() {
                    String::new()
                } else {
                    format!(", {reason}")
                }
            ),
            Timestamp::now(),
        )
        .await;
        let outcome = if to == DeployState::Succeeded {
            Outcome::Success
        } else {
            Outcome::Failure
        };
        let entry = AuditEntry::system(
            &format!("deploy.{}", to.as_str()),
            job.service.as_str(),
            Timestamp::now(),
        )
        .in_environment(job.environment.as_str())
        .ended(outcome, details);
        if let Err(e) = self.store.append_audit(&entry).await {
            tracing::error!(id = job.id, error = %e, "cannot audit how a deploy ended");
        }
    }

    /// The console's clock, which approval times are read from.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Records a releaser's approval or rejection (see [`Store::decide`]), says so in the
    /// job's steps and wakes the worker when the job may run now.
    pub async fn decide(&self, decision: &NewDecision) -> Result<Option<Decided>, StoreError> {
        let decided = self.store.decide(decision).await?;
        let said = if decision.comment.is_empty() {
            String::new()
        } else {
            format!(": {}", decision.comment)
        };
        match &decided {
            Some(Decided::Queued(job)) => {
                self.step(job, format!("Approved by {}{said}; queued", decision.by))
                    .await;
                self.wake.notify_one();
            }
            Some(Decided::Waiting(job)) => {
                self.step(
                    job,
                    format!("Approved by {}{said}; waits for more", decision.by),
                )
                .await;
            }
            Some(Decided::Rejected(job)) => {
                self.step(job, format!("Rejected by {}{said}", decision.by))
                    .await;
                self.record_end(job, DeployState::Rejected, &job.reason)
                    .await;
            }
            Some(Decided::NotAwaiting(_) | Decided::AlreadyDecided(_)) | None => {}
        }
        Ok(decided)
    }

    /// Ends the requests whose approval time is up by the console's clock, freeing their
    /// locks; returns how many. The worker calls this every round; a request or a decision
    /// calls it first, so nobody acts on a request that has run out.
    pub async fn expire_approvals(&self) -> Result<usize, StoreError> {
        let now = self.clock.now();
        match self.store.next_approval_expiry().await? {
            Some(next) if next <= now => {}
            _ => return Ok(0),
        }
        let expired = self
            .store
            .expire_approvals(now, "nobody approved it in time; nothing changed")
            .await?;
        for job in &expired {
            let until = job
                .approval
                .map(|a| flightdeck_app::time_format::utc(a.expires_at))
                .unwrap_or_default();
            self.step(job, format!("Expired: not approved by {until}"))
                .await;
            self.record_end(job, DeployState::Expired, &job.reason)
                .await;
        }
        Ok(expired.len())
    }

    async fn execute(&self, job: DeploymentRecord) {
        // Dropped with this future, also when the task is aborted on shutdown.
        let _heartbeat = self.heartbeat(job.id);
        self.execute_steps(&job).await;
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
        let verb = if job.kind == DeployKind::Restart {
            "Restarting"
        } else {
            "Deploying"
        };
        self.step(
            job,
            format!(
                "{verb} {} as {} in {} on the {}",
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
        let gate_settings = GateSettings {
            bake: self.settings.bake,
            deadline: self.settings.deadline,
            failures_to_fail,
        };
        // The health gate on the job's release, the same for every kind of job.
        let watch = || {
            gate::watch(
                backend.as_ref(),
                &target.kind,
                &job.release,
                target.health_url.as_ref(),
                &self.prober,
                gate_settings,
                &log,
            )
        };
        let switching = match job.kind {
            DeployKind::Restart => {
                let restart = backend.restart(&target.kind, &log);
                let restarted = self.while_logging(job, restart, &mut received).await;
                if let Err(e) = restarted {
                    self.finish(job, DeployState::Failed, &e.to_string()).await;
                    return;
                }
                let _ = self
                    .transition(job.id, &[DeployState::Running], DeployState::Verifying, "")
                    .await;
                let gate = watch();
                // The same release: there is nothing to roll back to, so a restart that does
                // not come back healthy ends failed and says so.
                match self.while_logging(job, gate, &mut received).await {
                    Ok(()) => self.finish(job, DeployState::Succeeded, "").await,
                    Err(reason) => {
                        let why = format!(
                            "{} did not come back healthy after the restart ({reason})",
                            job.release.version
                        );
                        self.finish(job, DeployState::Failed, &why).await;
                    }
                }
                return;
            }
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

        let gate = watch();
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

/// The last step of a job: its final state and why.
fn ending_step(to: DeployState, reason: &str) -> String {
    if reason.is_empty() {
        to.label().to_owned()
    } else {
        format!("{}: {reason}", to.label())
    }
}

/// "approval by a releaser other than ada", "approval by 2 releasers other than ada".
pub fn approvers(required: u32, requester: &str) -> String {
    if required == 1 {
        format!("approval by a releaser other than {requester}")
    } else {
        format!("approval by {required} releasers other than {requester}")
    }
}

/// How a job holding the lock is described to whoever it keeps out.
fn holding(state: DeployState) -> &'static str {
    if state == DeployState::AwaitingApproval {
        "awaiting approval"
    } else {
        "in progress"
    }
}
