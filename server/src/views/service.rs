//! The service page: per environment, the state now, uptime over 24 h / 7 d / 30 d, a latency
//! sparkline and the recent changes, from the monitor and the health history.

use flightdeck_app::model::{
    Cost, EcsDeploymentView, EcsServiceView, EnvironmentHealth, HealthChange, HealthSummary,
    LatencyPoint, RunbookLink, SeenRelease, ServiceHealthPage, Timestamp, Uptime,
};

use super::Views;
use crate::{
    backend::ecs::{EcsServiceState, revision_name},
    config::{Config, Service},
    error::AppError,
    health::HealthMonitor,
    store::{Resolution, Store, StoreError, VersionRecord},
};

const HOUR_MS: i64 = 3_600_000;
/// The sparkline shows this many hours, one point per minute.
const SPARKLINE_HOURS: i64 = 3;
/// Changes listed per environment.
const CHANGES_SHOWN: u32 = 50;

impl Views {
    /// The service page of `service`; not found when the configuration has no such service.
    pub async fn service_health(&self, service: &str) -> Result<ServiceHealthPage, AppError> {
        let found = self.config.service(service).ok_or_else(|| {
            AppError::NotFound(format!(
                "There is no service named “{service}” in the configuration."
            ))
        })?;
        // What runs where is kept for the dashboard; reading it costs one statement of counts.
        let current = self.kept.current().await?;
        let mut page = build(
            &self.config,
            found,
            &self.health,
            self.store.as_ref(),
            &current.versions,
            Timestamp::now(),
        )
        .await?;
        page.runbook_pages = self.runbooks_of(&found.name);
        // The whole costs view: a Docker host's share depends on every container on it.
        page.costs = self
            .costs()
            .await
            .services
            .iter()
            .find(|row| row.service == found.name)
            .map(|row| {
                row.cells
                    .iter()
                    .filter(|c| c.cost != Cost::NotHere)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        Ok(page)
    }
}

async fn build(
    config: &Config,
    service: &Service,
    monitor: &HealthMonitor,
    store: &dyn Store,
    versions: &[VersionRecord],
    now: Timestamp,
) -> Result<ServiceHealthPage, StoreError> {
    let ago = |hours: i64| Timestamp::from_unix_millis(now.unix_millis() - hours * HOUR_MS);
    let mut environments = Vec::new();
    for env in &config.environments {
        let Some(target) = service.targets.get(&env.name) else {
            continue;
        };
        let (e, s) = (&env.name, &service.name);
        let [day, week, month] = store
            .uptime_totals(e, s, [ago(24), ago(7 * 24)], ago(30 * 24))
            .await?;
        let uptime = Uptime {
            day: day.uptime_percent(),
            week: week.uptime_percent(),
            month: month.uptime_percent(),
        };
        #[allow(clippy::cast_precision_loss)]
        let latency = store
            .health_samples(e, s, Resolution::Minute, ago(SPARKLINE_HOURS))
            .await?
            .into_iter()
            .filter_map(|sample| {
                let l = sample.latency?;
                Some(LatencyPoint {
                    at: sample.bucket_start,
                    avg_ms: l.avg_us() as f64 / 1000.0,
                    max_ms: l.max_us as f64 / 1000.0,
                })
            })
            .collect();
        let changes = store
            .health_transitions(e, s, ago(30 * 24), CHANGES_SHOWN)
            .await?
            .into_iter()
            .map(HealthChange::from)
            .collect();
        let release = versions
            .iter()
            .find(|v| v.environment == *e && v.service == *s)
            .map(|v| SeenRelease {
                version: v.version.clone(),
                image: v.image.clone(),
                digest: v.digest.clone(),
                since: v.first_seen,
            });
        environments.push(EnvironmentHealth {
            environment: env.name.clone(),
            target: target.kind.label().to_owned(),
            health_url: target.health_url.as_ref().map(ToString::to_string),
            release,
            health: monitor
                .summary(e, s)
                .unwrap_or_else(|| HealthSummary::unknown("not probed yet")),
            uptime,
            latency,
            changes,
            ecs: monitor.ecs_service(e, s).map(ecs_view),
        });
    }
    Ok(ServiceHealthPage {
        name: service.name.clone(),
        description: service.description.clone(),
        owner: service.owner.clone(),
        generated_at: now,
        environments,
        // Filled in from the runbooks and the costs by `Views::service_health`.
        runbook_pages: Vec::new(),
        costs: Vec::new(),
        runbooks: service
            .runbooks
            .iter()
            .map(|r| RunbookLink {
                title: r.title.clone(),
                url: r.url.to_string(),
            })
            .collect(),
    })
}

fn ecs_view(state: EcsServiceState) -> EcsServiceView {
    let circuit_breaker = state.circuit_breaker.map(|breaker| {
        match breaker {
            (true, true) => "on: ECS rolls a failing deployment back by itself",
            (true, false) => "on: ECS stops a failing deployment but does not roll it back",
            (false, _) => "off: ECS keeps retrying a failing deployment (a console deploy still ends at its deadline)",
        }
        .to_owned()
    });
    EcsServiceView {
        task_definition: format!("{}:{}", state.family, state.revision),
        container: state.container,
        desired: state.desired,
        running: state.running,
        pending: state.pending,
        circuit_breaker,
        deployments: state
            .deployments
            .into_iter()
            .map(|d| EcsDeploymentView {
                task_definition: revision_name(&d.task_definition).to_owned(),
                status: d.status,
                rollout_state: d.rollout_state,
                rollout_reason: d.rollout_state_reason,
                desired: d.desired_count,
                running: d.running_count,
                pending: d.pending_count,
                failed_tasks: d.failed_tasks,
            })
            .collect(),
    }
}
