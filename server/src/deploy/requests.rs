//! Deploy requests from people and scripts: who may, what exactly to run, the audit entry, and
//! the views of jobs and live services. The pages and the JSON API both come through here.

use std::{collections::HashMap, sync::Arc};

use flightdeck_app::{
    console::Caller,
    model::{
        Action, DeployForm, DeployKind, DeployPanel, DeployState, DeploySummary, DeploymentView,
        EnvName, HealthState, HealthSummary, LiveService, Protection, RollbackOption, ServiceName,
        StepView, permits,
    },
};

use super::{DeployEngine, DeployError, DeployRequest};
use crate::{
    auth::AuthService,
    backend::{Backend, BackendError},
    config::{Config, Target},
    error::AppError,
    health::HealthMonitor,
    store::{DeploymentRecord, Outcome, Release, Store},
};

/// Idempotency keys are the caller's; this keeps them sane.
const MAX_KEY_LEN: usize = 128;
/// Deploys listed per environment on the service page.
const HISTORY_SHOWN: u32 = 20;

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
                format!("deploys to {env} are not possible yet: its backend has no adapter here"),
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
                (self.promotable(&source, &service).await?, Some(source))
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
        let health = self
            .health
            .summary(source, service)
            .unwrap_or_else(|| HealthSummary::unknown("not probed yet"));
        if health.state != HealthState::Healthy {
            return Err(AppError::Conflict(format!(
                "{service} is {} in {source} ({}); only a healthy release is promoted",
                health.state, health.reason
            )));
        }
        match backend.live(&target.kind).await {
            Ok(Some(live)) if live.running => Ok(live.release),
            Ok(_) => Err(AppError::Conflict(format!(
                "{service} is not running in {source}"
            ))),
            Err(e) => Err(AppError::Unavailable(e.to_string())),
        }
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
        let mut before: Option<EnvName> = None;
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
                unavailable: (!self.backends.contains_key(&env.name)).then(|| {
                    "deploys here come with the ECS adapter; this backend has none yet".to_owned()
                }),
                form_key: fresh_key(),
                promote_from: before
                    .clone()
                    .filter(|b| found.targets.contains_key(b))
                    .map(|b| b.to_string()),
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
            before = Some(env.name.clone());
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
        let mut out = Vec::new();
        for service in &self.config.services {
            let Some(target) = service.targets.get(&env) else {
                continue;
            };
            let live = match self.backends.get(&env) {
                Some(b) => b.live(&target.kind).await,
                None => Err(BackendError::Unreachable(format!(
                    "no adapter for {env}'s backend yet"
                ))),
            };
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
                health: self
                    .health
                    .summary(&env, &service.name)
                    .unwrap_or_else(|| HealthSummary::unknown("not probed yet")),
                deploying: busy.get(&service.name).copied(),
                error,
            });
        }
        Ok(out)
    }
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
        Ok(Some(live)) => crate::backend::docker_deploy::repository(&live.release.image).to_owned(),
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
