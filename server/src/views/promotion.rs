//! The promotion preview: what a promotion to an environment would change, worked out before
//! anyone confirms it (the rules of lag and differences are in `crate::deploy::promotion`).

use flightdeck_app::{
    console::Caller,
    model::{
        Action, DeployKind, EnvName, HealthChange, Lag, PromotionPreview, RecentHealth,
        RunningRelease, permits,
    },
};

use super::{Views, deploys::fresh_key};
use crate::{
    backend::{Backend, RuntimeSettings, parse_rfc3339},
    config::{Service, Target},
    deploy::{approvals, pinned, promotable_health, promotion},
    error::AppError,
    incidents,
    store::{DeploymentId, Release, Resolution},
};
use std::sync::Arc;

/// A promotion preview shows the source's health over this many minutes...
const PREVIEW_HEALTH_MINUTES: u32 = 15;
/// ...and at most this many of its changes of state.
const PREVIEW_CHANGES_SHOWN: u32 = 20;
/// Deploys of the source looked through to tell how far the target is behind.
const LAG_HISTORY: u32 = 200;

impl Views {
    /// What a promotion to `target` would change, for a person to look at before confirming:
    /// the releases before and after, how far behind the target is, the settings that differ,
    /// the source's recent health, and why it cannot be confirmed now, if it cannot.
    pub async fn promotion_preview(
        &self,
        caller: &Caller,
        service: &str,
        target: &str,
    ) -> Result<PromotionPreview, AppError> {
        self.preview_beside(caller, service, target, None).await
    }

    /// The preview, not counting the job `awaiting` as a deploy in progress: for the approver
    /// of that very job.
    pub(super) async fn preview_beside(
        &self,
        caller: &Caller,
        service: &str,
        target: &str,
        awaiting: Option<DeploymentId>,
    ) -> Result<PromotionPreview, AppError> {
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
        let source = self
            .config
            .promotion_source(found, &env.name)
            .ok_or_else(|| {
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
            .find(|j| &j.environment == to && &j.service == name && Some(j.id) != awaiting);

        let mut refusal = if !permits(caller.role, approvals::action(env, DeployKind::Promote)) {
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
                _ => promotable_health(&self.health.shown(&source, name), &source, name).err(),
            }
        };
        // During an incident or a freeze window: refused, unless the caller may deploy
        // through it (then the confirm form asks for the reason).
        let open = self.store.open_incidents().await?;
        let frozen_by = incidents::freeze_of(
            &open,
            &self.config.freezes,
            to,
            name,
            DeployKind::Promote,
            now,
        )
        .map(|f| f.message);
        if let (None, Some(frozen)) = (&refusal, &frozen_by)
            && !permits(caller.role, Action::OverrideFreeze)
        {
            refusal = Some(format!(
                "Promotions to {to} are {frozen}; roll back or restart instead, or ask a releaser."
            ));
        }
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
            let from = &found.targets[&source].kind;
            let pinning = match self.adapter(&source) {
                Ok(source_backend) => {
                    pinned(source_backend.as_ref(), from, (name, &source), to, release).await
                }
                Err(e) => Err(AppError::Unavailable(e)),
            };
            if let Err(e) = pinning {
                refusal = Some(e.to_string());
            }
        }

        Ok(PromotionPreview {
            service: name.to_string(),
            source: source.to_string(),
            target: to.to_string(),
            target_protected: env.protected,
            approvals: approvals::required(env, DeployKind::Promote),
            after: after.ok().flatten(),
            before: before.ok().flatten(),
            lag,
            differences,
            settings_error,
            source_health: self.health.shown(&source, name),
            source_recent: RecentHealth {
                minutes,
                checks: totals.checks,
                up: totals.up,
                changes,
            },
            refusal,
            frozen_by,
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
    pub(super) async fn running(
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
}
