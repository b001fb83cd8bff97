//! What the pages and the API show of deploys: one job with its steps, the deploy panels of a
//! service's page (history, rollback targets, what the caller may do) and what runs now in
//! every service of an environment.

use std::collections::HashMap;

use flightdeck_app::{
    console::Caller,
    model::{
        Action, ApprovalDecision, ApprovalView, DeployKind, DeployPanel, DeployState,
        DeploySummary, DeploymentView, EnvName, LiveService, RollbackOption, ServiceName, StepView,
        Timestamp, permits,
    },
    time_format,
};

use super::Views;
use crate::{
    backend::BackendError,
    config::FreezeWindow,
    config::{Service, Target},
    deploy::{self, approvals},
    error::AppError,
    incidents::{self, windows},
    store::{ApprovalTerms, DeploymentRecord, Release},
};

/// Deploys listed per environment on the service page.
pub(super) const HISTORY_SHOWN: u32 = 20;

/// A random key for one rendering of a deploy form.
/// The releases a rollback may go back to, newest first: every image that deployed
/// successfully and what each of those replaced (so the release that ran before the console's
/// first deploy is one too), once each, except the newest, which is what runs.
pub(super) fn rollback_options(jobs: &[DeploymentRecord]) -> Vec<RollbackOption> {
    let succeeded: Vec<&DeploymentRecord> = jobs
        .iter()
        .filter(|j| j.state == DeployState::Succeeded)
        .collect();
    let deployed = succeeded.iter().map(|j| {
        let at = j.finished_at.unwrap_or(j.created_at);
        (&j.release, at, j.requested_by.as_str())
    });
    // Who deployed a replaced release is not known here: it ran until that job.
    let replaced = succeeded
        .iter()
        .filter_map(|j| j.previous.as_ref().map(|p| (p, j.created_at, "")));
    let mut options: Vec<RollbackOption> = Vec::new();
    for (release, at, by) in deployed.chain(replaced) {
        if !options.iter().any(|r| r.image == release.image) {
            options.push(RollbackOption {
                version: release.version.clone(),
                image: release.image.clone(),
                digest: release.digest.clone(),
                deployed_at: at,
                deployed_by: by.to_owned(),
                cost_change: None,
            });
        }
    }
    if !options.is_empty() {
        options.remove(0);
    }
    options.sort_by_key(|r| std::cmp::Reverse(r.deployed_at));
    options
}

/// "weekend: 2026-12-04 15:00 UTC to 2026-12-07 07:00 UTC (no deploys over the weekend)": the
/// next freeze window of `service` in `env` to start, after any on now.
fn next_freeze(
    freezes: &[FreezeWindow],
    env: &EnvName,
    service: &ServiceName,
    now: Timestamp,
) -> Option<String> {
    freezes
        .iter()
        .filter(|w| windows::applies_to(w, env, service))
        .filter_map(|w| {
            let after = windows::occurrence_at(w, now).map_or(now, |o| o.end);
            windows::next_after(w, after).map(|o| (w, o))
        })
        .min_by_key(|(_, o)| o.start)
        .map(|(w, o)| {
            format!(
                "{}: {} to {} ({})",
                w.name,
                time_format::utc(o.start),
                time_format::utc(o.end),
                w.reason
            )
        })
}

pub(super) fn fresh_key() -> String {
    // Without randomness the form still works; only a double submit could deploy twice.
    crate::random_id::random_hex(16).unwrap_or_else(|| {
        format!(
            "form-{}",
            flightdeck_app::model::Timestamp::now().unix_millis()
        )
    })
}

/// How much of a deploy to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// Everything, what a job awaiting approval would change included.
    Full,
    /// Its state, steps and decisions: what a live stream sends.
    Progress,
}

impl Views {
    /// One deploy with its steps; with `detail`, while it awaits approval, also what it would
    /// change (read from the backends, so a live stream, which looks every second, leaves it
    /// out and the page keeps what it loaded).
    pub async fn deployment(
        &self,
        caller: &Caller,
        id: i64,
        detail: Detail,
    ) -> Result<DeploymentView, AppError> {
        let job = self
            .store
            .deployment(id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("there is no deploy #{id}")))?;
        self.deployment_view(caller, job, detail).await
    }

    /// A deploy job as its page and the API show it to `caller`, with every step so far.
    pub async fn deployment_view(
        &self,
        caller: &Caller,
        job: DeploymentRecord,
        detail: Detail,
    ) -> Result<DeploymentView, AppError> {
        let approval = match job.approval {
            Some(terms) => Some(self.approval_view(caller, &job, terms, detail).await?),
            None => None,
        };
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
            approval,
        })
    }

    /// Who approved or rejected a job, whether `caller` may, and while it waits, what it
    /// would change: the promotion preview, or what runs now beside the requested version.
    async fn approval_view(
        &self,
        caller: &Caller,
        job: &DeploymentRecord,
        terms: ApprovalTerms,
        detail: Detail,
    ) -> Result<ApprovalView, AppError> {
        let decisions = self.store.decisions(job.id).await?;
        let refusal = approvals::refusal(caller, job, &decisions);
        let waiting = job.state == DeployState::AwaitingApproval;
        let (mut runs_now, mut preview) = (None, None);
        if waiting && detail == Detail::Full {
            if job.kind == DeployKind::Promote {
                // Shown as it stands now; what runs is the release pinned at the request.
                preview = self
                    .preview_beside(
                        caller,
                        job.service.as_str(),
                        job.environment.as_str(),
                        Some(job.id),
                    )
                    .await
                    .ok()
                    .map(Box::new);
            } else if let Some(target) = self
                .config
                .service(job.service.as_str())
                .and_then(|s| s.targets.get(&job.environment))
            {
                runs_now = self.running(&job.environment, target).await.ok().flatten();
            }
        }
        let (may_decide, why_not) = match refusal {
            None => (true, None),
            Some(approvals::Refusal::Denied(m) | approvals::Refusal::Conflict(m)) => {
                (false, waiting.then_some(m))
            }
        };
        Ok(ApprovalView {
            required: terms.required,
            requester: job.requester.clone(),
            expires_at: terms.expires_at,
            decisions: decisions
                .into_iter()
                .map(|d| ApprovalDecision {
                    person: d.person,
                    by: d.by,
                    approved: d.approved,
                    comment: d.comment,
                    at: d.at,
                })
                .collect(),
            may_decide,
            why_not,
            runs_now,
            preview,
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
        let open = self.store.open_incidents().await?;
        let now = Timestamp::now();
        let mut panels = Vec::new();
        for env in &self.config.environments {
            if !found.targets.contains_key(&env.name) {
                continue;
            }
            let may = |kind| permits(caller.role, deploy::approvals::action(env, kind));
            let jobs = self
                .store
                .deployments_of(&env.name, &found.name, HISTORY_SHOWN)
                .await?;
            let mut rollback_to = rollback_options(&jobs);
            let releases: Vec<Release> = rollback_to
                .iter()
                .map(|r| Release {
                    version: r.version.clone(),
                    image: r.image.clone(),
                    digest: r.digest.clone(),
                })
                .collect();
            let changes = self
                .rollback_cost_changes(&env.name, &found.name, &releases)
                .await;
            for (option, change) in rollback_to.iter_mut().zip(changes) {
                option.cost_change = change;
            }
            panels.push(DeployPanel {
                environment: env.name.to_string(),
                protected: env.protected,
                may_deploy: may(DeployKind::Deploy),
                may_rollback: may(DeployKind::Rollback),
                may_promote: may(DeployKind::Promote),
                may_restart: may(DeployKind::Restart),
                approvals: deploy::approvals::required(env, DeployKind::Deploy),
                form_key: fresh_key(),
                promote_from: self
                    .config
                    .promotion_source(found, &env.name)
                    .map(|b| b.to_string()),
                rollback_to,
                frozen_by: incidents::freeze_of(
                    &open,
                    &self.config.freezes,
                    &env.name,
                    &found.name,
                    DeployKind::Deploy,
                    now,
                )
                .map(|f| f.message),
                next_freeze: next_freeze(&self.config.freezes, &env.name, &found.name, now),
                may_override: permits(caller.role, Action::OverrideFreeze),
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

#[cfg(test)]
mod tests {
    use flightdeck_app::model::{DeployKind, EnvName, Timestamp};

    use super::*;

    fn release(version: &str) -> Release {
        Release {
            version: version.into(),
            image: format!("shop:{version}"),
            digest: None,
        }
    }

    fn job(id: i64, version: &str, previous: Option<&str>, state: DeployState) -> DeploymentRecord {
        DeploymentRecord {
            id,
            environment: EnvName::parse("dev").unwrap(),
            service: ServiceName::parse("shop").unwrap(),
            kind: DeployKind::Deploy,
            release: release(version),
            promoted_from: None,
            previous: previous.map(release),
            state,
            reason: String::new(),
            requested_by: "ada".into(),
            requester: "ada".into(),
            approval: None,
            idempotency_key: id.to_string(),
            created_at: Timestamp::from_unix_millis(id * 1000),
            started_at: None,
            finished_at: Some(Timestamp::from_unix_millis(id * 1000 + 500)),
            heartbeat_at: None,
        }
    }

    #[test]
    fn a_rollback_may_go_to_any_earlier_success_or_what_a_success_replaced_but_not_what_runs() {
        let versions = |jobs: &[DeploymentRecord]| -> Vec<(String, String)> {
            rollback_options(jobs)
                .into_iter()
                .map(|r| (r.version, r.deployed_by))
                .collect()
        };
        // Newest first, as the store lists them.
        let jobs = [
            job(4, "3", Some("2"), DeployState::Succeeded),
            job(3, "9", Some("2"), DeployState::RolledBack),
            job(2, "2", Some("1"), DeployState::Succeeded),
            job(1, "1", Some("0"), DeployState::Succeeded),
        ];
        assert_eq!(
            versions(&jobs),
            [
                ("2".into(), "ada".into()),
                ("1".into(), "ada".into()),
                ("0".into(), String::new()),
            ]
        );
        // The first deploy the console made: what it replaced is the one way back.
        assert_eq!(
            versions(&[job(1, "1", Some("0"), DeployState::Succeeded)]),
            [("0".into(), String::new())]
        );
        assert!(versions(&[job(1, "1", None, DeployState::Failed)]).is_empty());
    }
}
