//! Deploy requests from people and scripts: who may, what exactly to run (resolved from a
//! version, or pinned to what runs in the source of a promotion), and the audit entry. The
//! pages and the JSON API both come through here; what they show of deploys is in
//! `crate::views`.

use std::{collections::HashMap, sync::Arc};

use flightdeck_app::{
    console::Caller,
    model::{
        Action, ApprovalForm, DeployForm, DeployKind, EnvName, HealthState, HealthSummary,
        ServiceName, Timestamp, permits,
    },
};

use super::{DeployEngine, DeployError, approvals};
use crate::{
    auth::AuthService,
    backend::{Backend, BackendError},
    config::{Config, Environment, Target, TargetKind},
    error::AppError,
    health::HealthMonitor,
    incidents::{self, timeline},
    store::{
        ApprovalTerms, Decided, DeploymentRecord, EntryKind, IncidentRecord, NewDecision,
        NewDeployment, Outcome, Release,
    },
};

/// A freeze a releaser deployed through, and why.
struct Overridden {
    freeze: incidents::Freeze,
    reason: String,
}

/// Idempotency keys are the caller's; this keeps them sane.
const MAX_KEY_LEN: usize = 128;
/// An approver's comment is a sentence or two, like an override's reason.
const MAX_COMMENT: usize = 500;

pub struct DeployService {
    config: Arc<Config>,
    auth: Arc<AuthService>,
    health: Arc<HealthMonitor>,
    engine: Arc<DeployEngine>,
    backends: HashMap<EnvName, Arc<dyn Backend>>,
}

impl DeployService {
    pub fn new(
        config: Arc<Config>,
        auth: Arc<AuthService>,
        health: Arc<HealthMonitor>,
        engine: Arc<DeployEngine>,
        backends: HashMap<EnvName, Arc<dyn Backend>>,
    ) -> Self {
        Self {
            config,
            auth,
            health,
            engine,
            backends,
        }
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

    /// Queues the deploy the form asks for; returns the job (the earlier one for a repeated
    /// key).
    pub async fn request(
        &self,
        caller: &Caller,
        form: DeployForm,
    ) -> Result<DeploymentRecord, AppError> {
        let env_config = environment(&self.config, "environment", &form.environment)?;
        let env = env_config.name.clone();
        let (service, target) = self.target(&env, &form.service)?;
        let key = form.idempotency_key.trim();
        if key.is_empty() || key.len() > MAX_KEY_LEN || key.chars().any(char::is_control) {
            return Err(AppError::invalid(
                "idempotency_key",
                format!("give 1 to {MAX_KEY_LEN} printable characters, new for every deploy"),
            ));
        }
        let kind = match (&form.promote_from, form.restart, form.rollback) {
            (Some(_), false, _) => DeployKind::Promote,
            (None, true, false) => DeployKind::Restart,
            (None, false, true) => DeployKind::Rollback,
            (None, false, false) => DeployKind::Deploy,
            (_, true, _) => {
                return Err(AppError::invalid(
                    "restart",
                    "a restart starts what runs again: no promotion or rollback with it",
                ));
            }
        };
        let action = approvals::action(env_config, kind);
        let required = approvals::required(env_config, kind);
        let runbook = match form.runbook.as_deref().map(str::trim) {
            Some(slug) if !slug.is_empty() => {
                if slug.len() > MAX_KEY_LEN
                    || !slug.chars().all(|c| c.is_alphanumeric() || c == '-')
                {
                    return Err(AppError::invalid("runbook", "not a runbook address"));
                }
                Some(slug.to_owned())
            }
            _ => None,
        };
        let audit_as = format!("deploy.{}", kind.as_str());
        self.auth
            .allow_in(caller, action, &audit_as, service.as_str(), env.as_str())
            .await?;
        // Read once: the freeze check and the timeline entry below both need them.
        let open = self.engine.store().open_incidents().await?;
        let overridden = self
            .check_freeze(
                caller,
                &open,
                (&env, &service),
                kind,
                form.override_reason.as_deref(),
            )
            .await?;

        let backend = self.backend(&env)?;
        let (release, promoted_from) = match &form.promote_from {
            None if kind == DeployKind::Restart => (running(backend.as_ref(), target).await?, None),
            Some(source) => {
                let source = environment(&self.config, "promote_from", source)?
                    .name
                    .clone();
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
                    let (_, source_target) = self.target(&source, service.as_str())?;
                    let source_backend = self.backend(&source)?;
                    pinned(
                        source_backend.as_ref(),
                        &source_target.kind,
                        (&service, &source),
                        &env,
                        release,
                    )
                    .await?
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

        // A request whose approval time is up no longer holds the lock.
        self.engine.expire_approvals().await?;
        let request = NewDeployment {
            environment: env.clone(),
            service: service.clone(),
            kind,
            release: release.clone(),
            promoted_from,
            requested_by: caller.name.clone(),
            requester: caller.person.clone(),
            idempotency_key: key.to_owned(),
            at: Timestamp::now(),
            overridden: overridden
                .as_ref()
                .map(|o| format!("{}: {}", o.freeze.message, o.reason)),
            approval: (required > 0).then(|| ApprovalTerms {
                required,
                expires_at: later(self.engine.clock().now(), env_config.approval_timeout),
            }),
        };
        let (job, created) = match self.engine.request(request).await {
            Ok(queued) => queued,
            Err(e @ DeployError::Busy { .. }) => return Err(AppError::Conflict(e.to_string())),
            Err(DeployError::NotFound(what)) => return Err(AppError::NotFound(what)),
            Err(DeployError::Store(e)) => return Err(e.into()),
        };
        // A repeated key changed nothing, so it is not a new audit entry.
        if created {
            let what = match kind {
                DeployKind::Deploy => format!("deploy of {}", release.version),
                DeployKind::Rollback => format!("rollback to {}", release.version),
                DeployKind::Promote => format!("promotion of {}", release.version),
                DeployKind::Restart => "restart".to_owned(),
            };
            let awaits = if job.approval.is_some() {
                "; awaits approval"
            } else {
                ""
            };
            // On the timeline of an incident in scope: the request, and a freeze overridden.
            let (entry_kind, through) = match &overridden {
                Some(o) if o.freeze.incident.is_some() => (
                    EntryKind::Freeze,
                    format!(" through the freeze: {}", o.reason),
                ),
                _ => (EntryKind::Deploy, String::new()),
            };
            timeline::record_in(
                self.engine.store().as_ref(),
                &open,
                &env,
                &service,
                entry_kind,
                &caller.name,
                &format!(
                    "{} requested a {what} of {service} in {env} (#{}){through}{awaits}",
                    caller.name, job.id
                ),
                Timestamp::now(),
            )
            .await;
            if let Some(Overridden { freeze, reason }) = &overridden {
                self.auth
                    .audit_action(
                        caller,
                        "deploy.override_freeze",
                        service.as_str(),
                        env.as_str(),
                        Outcome::Success,
                        format!(
                            "#{}: through the freeze ({}): {reason}",
                            job.id, freeze.message
                        ),
                    )
                    .await?;
            }
            self.auth
                .audit_action(
                    caller,
                    &audit_as,
                    service.as_str(),
                    env.as_str(),
                    Outcome::Success,
                    match &runbook {
                        Some(slug) => format!(
                            "#{}: {} ({}), from runbook {slug}{awaits}",
                            job.id, release.version, release.image
                        ),
                        None => format!(
                            "#{}: {} ({}){awaits}",
                            job.id, release.version, release.image
                        ),
                    },
                )
                .await?;
        }
        Ok(job)
    }

    /// Approves or rejects a job awaiting approval: a releaser other than its requester, with
    /// a comment (required to reject). An approval into a freeze is refused like the deploy
    /// would be; the request waits for the freeze to end or is rejected.
    pub async fn decide(
        &self,
        caller: &Caller,
        form: ApprovalForm,
    ) -> Result<DeploymentRecord, AppError> {
        let approved = match form.decision.trim() {
            "approve" => true,
            "reject" => false,
            other => {
                return Err(AppError::invalid(
                    "decision",
                    format!("`{other}` is not a decision: say approve or reject"),
                ));
            }
        };
        let comment = form.comment.trim();
        if comment.chars().count() > MAX_COMMENT {
            return Err(AppError::invalid(
                "comment",
                format!("at most {MAX_COMMENT} characters"),
            ));
        }
        if !approved && comment.is_empty() {
            return Err(AppError::invalid(
                "comment",
                "say why it is rejected, for the requester",
            ));
        }
        let audit_as = if approved {
            "deploy.approve"
        } else {
            "deploy.reject"
        };
        self.engine.expire_approvals().await?;
        let store = self.engine.store();
        let job = store.deployment(form.deployment).await?.ok_or_else(|| {
            AppError::NotFound(format!("there is no deploy #{}", form.deployment))
        })?;
        let (env, service) = (job.environment.as_str(), job.service.as_str());
        self.auth
            .allow_in(caller, Action::Approve, audit_as, service, env)
            .await?;
        let decisions = store.decisions(job.id).await?;
        match approvals::refusal(caller, &job, &decisions) {
            None => {}
            Some(approvals::Refusal::Conflict(message)) => return Err(AppError::Conflict(message)),
            Some(approvals::Refusal::Denied(message)) => {
                self.auth
                    .audit_action(
                        caller,
                        audit_as,
                        service,
                        env,
                        Outcome::Denied,
                        message.clone(),
                    )
                    .await?;
                return Err(AppError::Denied(message));
            }
        }
        let now = self.engine.clock().now();
        if approved {
            let open = store.open_incidents().await?;
            if let Some(freeze) = incidents::freeze_of(
                &open,
                &self.config.freezes,
                &job.environment,
                &job.service,
                job.kind,
                now,
            ) {
                return Err(AppError::Conflict(format!(
                    "{}; approve it once the freeze is over, or reject it",
                    freeze.message
                )));
            }
        }
        let said = if comment.is_empty() {
            String::new()
        } else {
            format!(": {comment}")
        };
        let decision = NewDecision {
            deployment: job.id,
            person: caller.person.clone(),
            by: caller.name.clone(),
            approved,
            comment: comment.to_owned(),
            at: now,
            reason: if approved {
                format!("approved by {}{said}", caller.name)
            } else {
                format!("rejected by {}{said}", caller.name)
            },
        };
        let decided = match self.engine.decide(&decision).await? {
            Some(Decided::Queued(j) | Decided::Waiting(j) | Decided::Rejected(j)) => j,
            // Between our look and the decision: someone else decided, or it ran out.
            Some(Decided::NotAwaiting(j)) => {
                return Err(AppError::Conflict(format!(
                    "deploy #{} is not awaiting approval: it is {}",
                    j.id,
                    j.state.label().to_lowercase()
                )));
            }
            Some(Decided::AlreadyDecided(j)) => {
                return Err(AppError::Conflict(format!(
                    "{} has already approved deploy #{}",
                    caller.person, j.id
                )));
            }
            None => {
                return Err(AppError::NotFound(format!(
                    "there is no deploy #{}",
                    job.id
                )));
            }
        };
        let verb = if approved { "approved" } else { "rejected" };
        timeline::record(
            store.as_ref(),
            &job.environment,
            &job.service,
            EntryKind::Deploy,
            &caller.name,
            &format!(
                "{} {verb} the {} of {} to {} (#{}){said}",
                caller.name,
                job.kind.as_str(),
                job.release.version,
                job.environment,
                job.id
            ),
            now,
        )
        .await;
        self.auth
            .audit_action(
                caller,
                audit_as,
                service,
                env,
                Outcome::Success,
                format!(
                    "#{}: {} ({}) requested by {}{said}",
                    job.id, job.release.version, job.release.image, job.requested_by
                ),
            )
            .await?;
        Ok(decided)
    }

    /// Refuses a deploy or promotion into an open incident's scope or a freeze window, unless
    /// a caller who may override gives a reason; returns what was overridden when so.
    async fn check_freeze(
        &self,
        caller: &Caller,
        open: &[IncidentRecord],
        (env, service): (&EnvName, &ServiceName),
        kind: DeployKind,
        reason: Option<&str>,
    ) -> Result<Option<Overridden>, AppError> {
        let Some(freeze) = incidents::freeze_of(
            open,
            &self.config.freezes,
            env,
            service,
            kind,
            Timestamp::now(),
        ) else {
            return Ok(None);
        };
        let frozen = &freeze.message;
        let reason = reason.map(str::trim).unwrap_or_default();
        if reason.is_empty() {
            let hint = if permits(caller.role, Action::OverrideFreeze) {
                "; give a reason to deploy through it"
            } else {
                "; roll back or restart instead, or ask a releaser"
            };
            return Err(AppError::Conflict(format!("{frozen}{hint}")));
        }
        if !permits(caller.role, Action::OverrideFreeze) {
            let message = format!(
                "{frozen}; only a releaser (or an admin) may deploy through it, you are a {}",
                caller.role.as_str()
            );
            self.auth
                .audit_action(
                    caller,
                    "deploy.override_freeze",
                    service.as_str(),
                    env.as_str(),
                    Outcome::Denied,
                    message.clone(),
                )
                .await?;
            return Err(AppError::Denied(message));
        }
        if reason.chars().count() > 500 {
            return Err(AppError::invalid(
                "override_reason",
                "at most 500 characters",
            ));
        }
        Ok(Some(Overridden {
            freeze,
            reason: reason.to_owned(),
        }))
    }

    /// The exact image running in `source`, refused unless the service is healthy there.
    async fn promotable(
        &self,
        source: &EnvName,
        service: &ServiceName,
    ) -> Result<Release, AppError> {
        let backend = self.backend(source)?;
        let (_, target) = self.target(source, service.as_str())?;
        promotable_health(&self.health.shown(source, service), source, service)
            .map_err(AppError::Conflict)?;
        match backend.live(&target.kind).await {
            Ok(Some(live)) if live.running => Ok(live.release),
            Ok(_) => Err(AppError::Conflict(format!(
                "{service} is not running in {source}"
            ))),
            Err(e) => Err(AppError::Unavailable(e.to_string())),
        }
    }
}

/// What runs now, for a restart; refused when nothing does.
async fn running(backend: &dyn Backend, target: &Target) -> Result<Release, AppError> {
    match backend.live(&target.kind).await {
        Ok(Some(live)) => Ok(live.release),
        Ok(None) => Err(AppError::invalid(
            "service",
            format!("{} does not exist on the backend", target.kind.label()),
        )),
        Err(e) => Err(AppError::Unavailable(e.to_string())),
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

/// `release`, running in `source`, as a reference pinned to its registry digest, for a
/// target that pulls by reference (ECS): a tag alone may name another image by the time
/// the target pulls it, and a Docker image ID means nothing to a registry.
pub async fn pinned(
    source_backend: &dyn Backend,
    source_target: &TargetKind,
    (service, source): (&ServiceName, &EnvName),
    target: &EnvName,
    release: Release,
) -> Result<Release, AppError> {
    match source_backend.pullable(source_target, &release).await {
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

/// Only a release the probes find healthy is promoted; the error says what they found.
pub fn promotable_health(
    health: &HealthSummary,
    source: &EnvName,
    service: &ServiceName,
) -> Result<(), String> {
    if health.state == HealthState::Healthy {
        return Ok(());
    }
    Err(format!(
        "{service} is {} in {source} ({}); only a healthy release is promoted",
        health.state, health.reason
    ))
}

/// The configured environment `name`, or an error for the form field that named it.
pub fn environment<'a>(
    config: &'a Config,
    field: &str,
    name: &str,
) -> Result<&'a Environment, AppError> {
    EnvName::parse(name.trim())
        .ok()
        .and_then(|n| config.environment(&n))
        .ok_or_else(|| {
            let known: Vec<&str> = config
                .environments
                .iter()
                .map(|e| e.name.as_str())
                .collect();
            AppError::invalid(
                field,
                format!("no environment `{name}`; there are: {}", known.join(", ")),
            )
        })
}

/// `at` plus `by`, saturating.
fn later(at: Timestamp, by: std::time::Duration) -> Timestamp {
    let by = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
    Timestamp::from_unix_millis(at.unix_millis().saturating_add(by))
}
