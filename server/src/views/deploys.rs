//! What the pages and the API show of deploys: one job with its steps, the deploy panels of a
//! service's page (history, rollback targets, what the caller may do) and what runs now in
//! every service of an environment.

use std::collections::HashMap;

use flightdeck_app::{
    console::Caller,
    model::{
        Action, DeployPanel, DeployState, DeploySummary, DeploymentView, LiveService, Protection,
        RollbackOption, ServiceName, StepView, permits,
    },
};

use super::Views;
use crate::{
    backend::BackendError,
    config::{Service, Target},
    deploy,
    error::AppError,
    store::DeploymentRecord,
};

/// Deploys listed per environment on the service page.
const HISTORY_SHOWN: u32 = 20;

/// A random key for one rendering of a deploy form.
pub(super) fn fresh_key() -> String {
    // Without randomness the form still works; only a double submit could deploy twice.
    crate::random_id::random_hex(16).unwrap_or_else(|| {
        format!(
            "form-{}",
            flightdeck_app::model::Timestamp::now().unix_millis()
        )
    })
}

impl Views {
    /// One deploy with its steps.
    pub async fn deployment(&self, id: i64) -> Result<DeploymentView, AppError> {
        let job = self
            .store
            .deployment(id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("there is no deploy #{id}")))?;
        self.deployment_view(job).await
    }

    /// A deploy job as its page and the API show it, with every step so far.
    pub async fn deployment_view(&self, job: DeploymentRecord) -> Result<DeploymentView, AppError> {
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
                promote_from: self
                    .config
                    .promotion_source(found, &env.name)
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
        }
        Ok(panels)
    }

    /// Every service of one environment with what its backend says runs now.
    pub async fn environment_services(
        &self,
        environment: &str,
    ) -> Result<Vec<LiveService>, AppError> {
        let env = deploy::environment(&self.config, "environment", environment)?
            .name
            .clone();
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
                health: self.health.shown(&env, &service.name),
                deploying: busy.get(&service.name).copied(),
                error,
            });
        }
        Ok(out)
    }
}
