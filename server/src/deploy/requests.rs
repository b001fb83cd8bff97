//! Deploy requests from people and scripts: who may, what exactly to run, the audit entry, and
//! the views of jobs and live services. The pages and the JSON API both come through here.

use std::{collections::HashMap, sync::Arc};

use flightdeck_app::{
    console::Caller,
    model::{
        Action, DeployForm, DeployKind, DeployPanel, DeployState, DeploySummary, DeploymentView,
        EnvName, HealthChange, HealthState, HealthSummary, Lag, LiveService, PromotionPreview,
        Protection, RecentHealth, RollbackOption, RunningRelease, ServiceName, StepView, permits,
    },
};

use super::{DeployEngine, DeployError, DeployRequest, promotion};
use crate::{
    auth::AuthService,
    backend::{Backend, BackendError, RuntimeSettings},
    config::{Config, Service, Target},
    error::AppError,
    health::HealthMonitor,
    store::{DeploymentRecord, Outcome, Release, Resolution, Store},
};

/// Idempotency keys are the caller's; this keeps them sane.
const MAX_KEY_LEN: usize = 128;
/// Deploys listed per environment on the service page.
const HISTORY_SHOWN: u32 = 20;
/// A promotion preview shows the source's health over this many minutes...
const PREVIEW_HEALTH_MINUTES: u32 = 15;
/// ...and at most this many of its changes of state.
const PREVIEW_CHANGES_SHOWN: u32 = 20;
/// Deploys of the source looked through to tell how far the target is behind.
const LAG_HISTORY: u32 = 200;

/// A random key for one rendering of a deploy form.
fn fresh_key() -> String {
    let mut bytes = [0_u8; 16];
    // Without randomness the form still works; only a double submit could deploy twice.
    if getrandom::fill(&mut bytes).is_err() {
        return format!(
            "form-{}",
            flightdeck_app::model::Timestamp::now().unix_millis()
        );
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub struct DeployService {
    config: Arc<Config>,
    store: Arc<dyn Store>,
    auth: Arc<AuthService>,
    health: Arc<HealthMonitor>,
    engine: Arc<DeployEngine>,
    backends: HashMap<EnvName, Arc<dyn Backend>>,
}

impl DeployService {
    pub fn new(
        config: Arc<Config>,
        store: Arc<dyn Store>,
        auth: Arc<AuthService>,
        health: Arc<HealthMonitor>,
        engine: Arc<DeployEngine>,
        backends: HashMap<EnvName, Arc<dyn Backend>>,
    ) -> Self {
        Self {
            config,
            store,
            auth,
            health,
            engine,
            backends,
        }
    }

    fn environment(&self, field: &str, name: &str) -> Result<(EnvName, bool), AppError> {
        let env = EnvName::parse(name.trim())
            .ok()
            .and_then(|n| self.config.environment(&n))
            .ok_or_else(|| {
                let known: Vec<&str> = self
                    .config
                    .environments
                    .iter()
                    .map(|e| e.name.as_str())
                    .collect();
                AppError::invalid(
                    field,
                    format!("no environment `{name}`; there are: {}", known.join(", ")),
                )
            })?;
        Ok((env.name.clone(), env.protected))
    }

    fn target(&self, env: &EnvName, service: &str) -> Result<(ServiceName, &Target), AppError> {
        let s = self
            .config
            .service(service.trim())
            .ok_or_else(|| AppError::invalid("service", format!("no service `{service}`")))?;
        let target = s.targets.get(env).ok_or_else(|| {
            AppError::invalid("service", format!("{} does not run in {env}", s.name))
        })?;
        Ok((s.name.clone(), target))
    }

    fn backend(&self, env: &EnvName) -> Result<&Arc<dyn Backend>, AppError> {
        self.backends.get(env).ok_or_else(|| {
            AppError::invalid(
                "environment",
                format!("{env} has no backend in this console"),
            )
        })
    }

    pub async fn request(
        &self,
        caller: &Caller,
        form: DeployForm,
    ) -> Result<DeploymentView, AppError> {
        let (env, protected) = self.environment("environment", &form.environment)?;
        let (service, target) = self.target(&env, &form.service)?;
        let key = form.idempotency_key.trim();
        if key.is_empty() || key.len() > MAX_KEY_LEN || key.chars().any(char::is_control) {
            return Err(AppError::invalid(
                "idempotency_key",
                format!("give 1 to {MAX_KEY_LEN} printable characters, new for every deploy"),
            ));
        }
        let kind = match (&form.promote_from, form.rollback) {
            (Some(_), _) => DeployKind::Promote,
            (None, true) => DeployKind::Rollback,
            (None, false) => DeployKind::Deploy,
        };
        let protection = Protection::from_flag(protected);
        let action = match kind {
            DeployKind::Deploy => Action::Deploy(protection),
            DeployKind::Rollback => Action::Rollback(protection),
            DeployKind::Promote => Action::Promote(protection),
        };
        let audit_as = format!("deploy.{}", kind.as_str());
        self.auth
            .allow_in(caller, action, &audit_as, service.as_str(), env.as_str())
            .await?;

        let backend = self.backend(&env)?;
        let (release, promoted_from) = match &form.promote_from {
            Some(source) => {
                let (source, _) = self.environment("promote_from", source)?;
                if source == env {
                    return Err(AppError::invalid(
                        "promote_from",
                        "promote from another environment than the target",
                    ));
                }
                let release = self.promotable(&source, &service).await?;
                let exact = release.digest.as_deref().unwrap_or(&release.image);
                let reviewed = form.reviewed.as_deref().map(str::trim).unwrap_or_default();
                if !reviewed.is_empty() && reviewed != exact {
                    return Err(AppError::Conflict(format!(
                        "{source} now runs {} ({exact}), not the release you reviewed \
                         ({reviewed}); look at the promotion again",
                        release.version
                    )));
                }
                let release = if backend.pulls_by_reference() {
                    self.pinned(&source, &service, &env, release).await?
                } else {
                    release
                };
                (release, Some(source))
            }
            None => {
                let version = form.version.as_deref().map(str::trim).unwrap_or_default();
                if version.is_empty() {
                    return Err(AppError::invalid("version", "say which version to deploy"));
                }
                (resolve(backend.as_ref(), target, version).await?, None)
            }
        };

        let request = DeployRequest {
            environment: env.clone(),
            service: service.clone(),
            kind,
            release: release.clone(),
            promoted_from,
            requested_by: caller.name.clone(),
            idempotency_key: key.to_owned(),
        };
        let (job, created) = match self.engine.request(request).await {
            Ok(queued) => queued,
            Err(e @ DeployError::Busy { .. }) => return Err(AppError::Conflict(e.to_string())),
            Err(DeployError::NotFound(what)) => return Err(AppError::NotFound(what)),
            Err(DeployError::Store(e)) => return Err(e.into()),
        };
        // A repeated key changed nothing, so it is not a new audit entry.
        if created {
            self.auth
                .audit_action(
                    caller,
                    &audit_as,
                    service.as_str(),
                    env.as_str(),
                    Outcome::Success,
                    format!("#{}: {} ({})", job.id, release.version, release.image),
                )
                .await?;
        }
        self.view(job).await
    }

    /// The exact image running in `source`, refused unless the service is healthy there.
    async fn promotable(
        &self,
        source: &EnvName,
        service: &ServiceName,
    ) -> Result<Release, AppError> {
        let backend = self.backend(source)?;
        let (_, target) = self.target(source, service.as_str())?;
        self.healthy_in(source, service)
            .map_err(AppError::Conflict)?;
        match backend.live(&target.kind).await {
            Ok(Some(live)) if live.running => Ok(live.release),
            Ok(_) => Err(AppError::Conflict(format!(
                "{service} is not running in {source}"
            ))),
            Err(e) => Err(AppError::Unavailable(e.to_string())),
        }
    }

    /// `release`, running in `source`, as a reference pinned to its registry digest, for a
    /// target that pulls by reference (ECS): a tag alone may name another image by the time
    /// the target pulls it, and a Docker image ID means nothing to a registry.
    async fn pinned(
        &self,
        source: &EnvName,
        service: &ServiceName,
        target: &EnvName,
        release: Release,
    ) -> Result<Release, AppError> {
        let backend = self.backend(source)?;
        let (_, source_target) = self.target(source, service.as_str())?;
        match backend.pullable(&source_target.kind, &release).await {
            Ok(Some(reference)) => {
                let digest = reference.split_once('@').map(|(_, d)| d.to_owned());
                Ok(Release {
                    version: release.version,
                    image: reference,
                    digest,
                })
            }
            Ok(None) => Err(AppError::Conflict(format!(
                "{service} in {source} runs {}, and no registry digest pins it (an image built \
                 on the host and never pushed, or no running task reports one); {target} pulls \
                 from a registry and a tag alone may name another image by then: push it, or \
                 deploy it to {target} by version",
                release.image
            ))),
            Err(e) => Err(AppError::Unavailable(e.to_string())),
        }
    }

    fn health_of(&self, env: &EnvName, service: &ServiceName) -> HealthSummary {
        self.health
            .summary(env, service)
            .unwrap_or_else(|| HealthSummary::unknown("not probed yet"))
    }

    /// Only a release the probes find healthy is promoted; the error says what they found.
    fn healthy_in(&self, source: &EnvName, service: &ServiceName) -> Result<(), String> {
        let health = self.health_of(source, service);
        if health.state == HealthState::Healthy {
            return Ok(());
        }
        Err(format!(
            "{service} is {} in {source} ({}); only a healthy release is promoted",
            health.state, health.reason
        ))
    }

    /// The environment a service is promoted to `target` from: the one before it, in the
    /// configuration's order, among those the service runs in.
    fn source_of(&self, service: &Service, target: &EnvName) -> Option<EnvName> {
        self.config
            .environments
            .iter()
            .map(|e| &e.name)
            .filter(|e| service.targets.contains_key(*e))
            .take_while(|e| *e != target)
            .last()
            .cloned()
    }

    /// What a promotion to `target` would change, for a person to look at before confirming:
    /// the releases before and after, how far behind the target is, the settings that differ,
    /// the source's recent health, and why it cannot be confirmed now, if it cannot.
    pub async fn promotion_preview(
        &self,
        caller: &Caller,
        service: &str,
        target: &str,
    ) -> Result<PromotionPreview, AppError> {
        crate::auth::authorize(caller, Action::View)?;
        let found = self
            .config
            .service(service)
            .ok_or_else(|| AppError::NotFound(format!("there is no service named {service}")))?;
        let env = EnvName::parse(target)
            .ok()
            .and_then(|n| self.config.environment(&n))
            .filter(|e| found.targets.contains_key(&e.name))
            .ok_or_else(|| {
                AppError::NotFound(format!(
                    "{} does not run in an environment `{target}`",
                    found.name
                ))
            })?;
        let source = self.source_of(found, &env.name).ok_or_else(|| {
            AppError::NotFound(format!(
                "{} runs in no environment before {}, so there is nothing to promote",
                found.name, env.name
            ))
        })?;
        let (name, to) = (&found.name, &env.name);
        let now = flightdeck_app::model::Timestamp::now();

        let (after, before) = tokio::join!(
            self.running(&source, &found.targets[&source]),
            self.running(to, &found.targets[to]),
        );
        let (source_settings, target_settings) = tokio::join!(
            self.settings(&source, &found.targets[&source]),
            self.settings(to, &found.targets[to]),
        );
        let (differences, settings_error) = match (source_settings, target_settings) {
            (Ok(a), Ok(b)) => (promotion::differences(&a, &b), None),
            (Err(e), _) | (_, Err(e)) => (Vec::new(), Some(e)),
        };
        let lag = match (&after, &before) {
            (Ok(Some(a)), Ok(Some(b))) => self.lag(&source, found, a, b).await?,
            (Ok(None), _) => Lag::Unknown {
                reason: format!("{name} does not run in {source}"),
            },
            (_, Ok(None)) => Lag::Unknown {
                reason: format!("{name} does not run in {to} yet"),
            },
            (Err(e), _) | (_, Err(e)) => Lag::Unknown { reason: e.clone() },
        };

        let minutes = PREVIEW_HEALTH_MINUTES;
        let since = flightdeck_app::model::Timestamp::from_unix_millis(
            now.unix_millis() - i64::from(minutes) * 60_000,
        );
        let mut totals = self
            .store
            .health_totals(&source, name, Resolution::Minute, since)
            .await?;
        // The minute under way is not in the store yet; without it a console started a
        // minute ago would show no history at all.
        if let Some(minute) = self.health.current_minute(&source, name) {
            totals.checks += minute.checks;
            totals.up += minute.up;
        }
        let changes = self
            .store
            .health_transitions(&source, name, since, PREVIEW_CHANGES_SHOWN)
            .await?
            .into_iter()
            .map(HealthChange::from)
            .collect();
        let busy = self
            .store
            .unfinished_deployments()
            .await?
            .into_iter()
            .find(|j| &j.environment == to && &j.service == name);

        let protection = Protection::from_flag(env.protected);
        let mut refusal = if !permits(caller.role, Action::Promote(protection)) {
            Some(format!(
                "Promoting to {to} needs the {} role.",
                if env.protected {
                    "releaser"
                } else {
                    "deployer"
                }
            ))
        } else if let Some(job) = busy {
            Some(format!(
                "Deploy #{} by {} is in progress in {to}.",
                job.id, job.requested_by
            ))
        } else {
            match (&after, &lag) {
                (Err(e), _) => Some(format!("Cannot read what runs in {source}: {e}")),
                (Ok(None), _) => Some(format!("{name} does not run in {source}.")),
                (Ok(Some(a)), _) if !a.running => Some(format!("{name} is stopped in {source}.")),
                (_, Lag::Same) => Some(format!("{to} already runs this exact image.")),
                _ => self.healthy_in(&source, name).err(),
            }
        };
        // A target that pulls by reference needs a registry digest: say now, not on confirm,
        // when there is none.
        if let (None, Ok(Some(a)), Ok(backend)) = (&refusal, &after, self.adapter(to))
            && backend.pulls_by_reference()
        {
            let release = Release {
                version: a.version.clone(),
                image: a.image.clone(),
                digest: a.digest.clone(),
            };
            if let Err(e) = self.pinned(&source, name, to, release).await {
                refusal = Some(e.to_string());
            }
        }

        Ok(PromotionPreview {
            service: name.to_string(),
            source: source.to_string(),
            target: to.to_string(),
            target_protected: env.protected,
            after: after.ok().flatten(),
            before: before.ok().flatten(),
            lag,
            differences,
            settings_error,
            source_health: self.health_of(&source, name),
            source_recent: RecentHealth {
                minutes,
                checks: totals.checks,
                up: totals.up,
                changes,
            },
            refusal,
            form_key: fresh_key(),
            generated_at: now,
        })
    }

    /// The backend of `env`, for the preview, which shows what it cannot read instead of
    /// failing.
    fn adapter(&self, env: &EnvName) -> Result<&Arc<dyn Backend>, String> {
        self.backends
            .get(env)
            .ok_or_else(|| format!("{env} has no backend in this console"))
    }

    /// What runs in `env` now, or why that cannot be read.
    async fn running(
        &self,
        env: &EnvName,
        target: &Target,
    ) -> Result<Option<RunningRelease>, String> {
        let backend = self.adapter(env)?;
        let live = backend
            .live(&target.kind)
            .await
            .map_err(|e| e.to_string())?;
        Ok(live.map(|l| RunningRelease {
            version: l.release.version,
            image: l.release.image,
            digest: l.release.digest,
            running: l.running,
            started_at: l.started_at.as_deref().and_then(parse_rfc3339),
        }))
    }

    async fn settings(&self, env: &EnvName, target: &Target) -> Result<RuntimeSettings, String> {
        let backend = self.adapter(env)?;
        backend
            .settings(&target.kind)
            .await
            .map_err(|e| format!("cannot read the settings in {env}: {e}"))?
            .ok_or_else(|| format!("{} does not exist in {env}", target.kind.label()))
    }

    /// How far behind the target is: from the source's deploy history, else from the version
    /// numbers of the releases the source's backend knows.
    async fn lag(
        &self,
        source: &EnvName,
        service: &Service,
        after: &RunningRelease,
        before: &RunningRelease,
    ) -> Result<Lag, AppError> {
        let history = self
            .store
            .deployments_of(source, &service.name, LAG_HISTORY)
            .await?;
        if let Some(lag) = promotion::lag_from_history(&history, after, before) {
            return Ok(lag);
        }
        let releases = match self.backends.get(source) {
            Some(b) => b
                .releases(&service.targets[source].kind)
                .await
                .unwrap_or_default(),
            None => Vec::new(),
        };
        Ok(
            promotion::lag_from_versions(&releases, after, before).unwrap_or_else(|| {
                Lag::Unknown {
                    reason: format!(
                        "{} was never deployed to {source} through the console, and the versions \
                     {} and {} do not say which is newer",
                        before.version, before.version, after.version
                    ),
                }
            }),
        )
    }

    pub async fn deployment(&self, caller: &Caller, id: i64) -> Result<DeploymentView, AppError> {
        crate::auth::authorize(caller, Action::View)?;
        let job = self
            .store
            .deployment(id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("there is no deploy #{id}")))?;
        self.view(job).await
    }

    async fn view(&self, job: DeploymentRecord) -> Result<DeploymentView, AppError> {
        let steps = self
            .store
            .steps(job.id)
            .await?
            .into_iter()
            .map(|s| StepView {
                at: s.at,
                message: s.message,
            })
            .collect();
        Ok(DeploymentView {
            id: job.id,
            environment: job.environment.to_string(),
            service: job.service.to_string(),
            kind: job.kind,
            version: job.release.version,
            image: job.release.image,
            digest: job.release.digest,
            promoted_from: job.promoted_from.map(|e| e.to_string()),
            previous_version: job.previous.as_ref().map(|p| p.version.clone()),
            previous_image: job.previous.map(|p| p.image),
            state: job.state,
            reason: job.reason,
            requested_by: job.requested_by,
            created_at: job.created_at,
            started_at: job.started_at,
            finished_at: job.finished_at,
            steps,
        })
    }

    /// The service page's deploy panel for every environment the service runs in.
    pub async fn panels(
        &self,
        caller: &Caller,
        service: &str,
    ) -> Result<Vec<DeployPanel>, AppError> {
        crate::auth::authorize(caller, Action::View)?;
        let found = self
            .config
            .service(service)
            .ok_or_else(|| AppError::NotFound(format!("there is no service named {service}")))?;
        let mut panels = Vec::new();
        for env in &self.config.environments {
            if !found.targets.contains_key(&env.name) {
                continue;
            }
            let protection = Protection::from_flag(env.protected);
            let jobs = self
                .store
                .deployments_of(&env.name, &found.name, HISTORY_SHOWN)
                .await?;
            let mut rollback_to: Vec<RollbackOption> = Vec::new();
            for job in jobs.iter().filter(|j| j.state == DeployState::Succeeded) {
                if !rollback_to.iter().any(|r| r.image == job.release.image) {
                    rollback_to.push(RollbackOption {
                        version: job.release.version.clone(),
                        image: job.release.image.clone(),
                        digest: job.release.digest.clone(),
                        deployed_at: job.finished_at.unwrap_or(job.created_at),
                        deployed_by: job.requested_by.clone(),
                    });
                }
            }
            // The newest success is what runs: it is not a rollback target.
            if !rollback_to.is_empty() {
                rollback_to.remove(0);
            }
            panels.push(DeployPanel {
                environment: env.name.to_string(),
                protected: env.protected,
                may_deploy: permits(caller.role, Action::Deploy(protection)),
                may_rollback: permits(caller.role, Action::Rollback(protection)),
                may_promote: permits(caller.role, Action::Promote(protection)),
                form_key: fresh_key(),
                promote_from: self.source_of(found, &env.name).map(|b| b.to_string()),
                rollback_to,
                in_progress: jobs.iter().find(|j| !j.state.is_final()).map(|j| j.id),
                history: jobs
                    .into_iter()
                    .map(|j| DeploySummary {
                        id: j.id,
                        kind: j.kind,
                        version: j.release.version,
                        state: j.state,
                        reason: j.reason,
                        requested_by: j.requested_by,
                        created_at: j.created_at,
                        finished_at: j.finished_at,
                    })
                    .collect(),
            });
        }
        Ok(panels)
    }

    /// Every service of one environment with what its backend says runs now.
    pub async fn environment_services(
        &self,
        caller: &Caller,
        environment: &str,
    ) -> Result<Vec<LiveService>, AppError> {
        crate::auth::authorize(caller, Action::View)?;
        let (env, _) = self.environment("environment", environment)?;
        let busy: HashMap<ServiceName, i64> = self
            .store
            .unfinished_deployments()
            .await?
            .into_iter()
            .filter(|j| j.environment == env)
            .map(|j| (j.service, j.id))
            .collect();
        let targets: Vec<(&Service, &Target)> = self
            .config
            .services
            .iter()
            .filter_map(|s| s.targets.get(&env).map(|t| (s, t)))
            .collect();
        // All at once: with a slow or unreachable backend the answer takes one call's time
        // (its timeout at worst), not one per service.
        let lives = futures_util::future::join_all(targets.iter().map(|(_, target)| async {
            match self.backends.get(&env) {
                Some(b) => b.live(&target.kind).await,
                None => Err(BackendError::Unreachable(format!(
                    "{env} has no backend in this console"
                ))),
            }
        }))
        .await;
        let mut out = Vec::new();
        for ((service, target), live) in targets.into_iter().zip(lives) {
            let (release, running, error) = match live {
                Ok(Some(l)) => (Some(l.release), l.running, None),
                Ok(None) => (
                    None,
                    false,
                    Some(format!("{} does not exist", target.kind.label())),
                ),
                Err(e) => (None, false, Some(e.to_string())),
            };
            out.push(LiveService {
                service: service.name.to_string(),
                target: target.kind.label().to_owned(),
                version: release.as_ref().map(|r| r.version.clone()),
                image: release.as_ref().map(|r| r.image.clone()),
                digest: release.and_then(|r| r.digest),
                running,
                health: self.health_of(&env, &service.name),
                deploying: busy.get(&service.name).copied(),
                error,
            });
        }
        Ok(out)
    }
}

/// A backend's RFC 3339 time (Docker's has nanoseconds), or `None` when it is not one.
fn parse_rfc3339(text: &str) -> Option<flightdeck_app::model::Timestamp> {
    let at =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    let millis = i64::try_from(at.unix_timestamp_nanos() / 1_000_000).ok()?;
    Some(flightdeck_app::model::Timestamp::from_unix_millis(millis))
}

/// The release for `version`: an image on the host with that tag (exact, with its digest), or
/// else the same repository with that tag, which the backend pulls or refuses clearly.
async fn resolve(
    backend: &dyn Backend,
    target: &Target,
    version: &str,
) -> Result<Release, AppError> {
    let known = match backend.releases(&target.kind).await {
        Ok(known) => known,
        Err(BackendError::Unreachable(e)) => return Err(AppError::Unavailable(e)),
        Err(e) => return Err(AppError::invalid("version", e.to_string())),
    };
    if let Some(found) = known
        .iter()
        .find(|r| r.version == version || r.image == version)
    {
        return Ok(found.clone());
    }
    let repo = match backend.live(&target.kind).await {
        Ok(Some(live)) => crate::backend::image::repository(&live.release.image).to_owned(),
        Ok(None) => {
            return Err(AppError::invalid(
                "service",
                format!("{} does not exist on the backend", target.kind.label()),
            ));
        }
        Err(e) => return Err(AppError::Unavailable(e.to_string())),
    };
    Ok(Release {
        version: version.to_owned(),
        image: format!("{repo}:{version}"),
        digest: None,
    })
}
