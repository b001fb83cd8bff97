//! The dashboard matrix, from the configuration (what exists), the store (what the console has
//! seen running, and the deploys under way) and the monitor (health now).

use std::collections::{HashMap, HashSet};

use flightdeck_app::model::{
    BackendSummary, Cell, Dashboard, DeployState, EnvName, EnvironmentColumn, FreezeNotice,
    HealthSummary, KnownVersion, ServiceName, ServiceRow, Timestamp,
};

use super::Views;
use crate::{
    config::{Backend, Config},
    error::AppError,
    incidents::{self, windows},
    store::VersionRecord,
};

impl Views {
    pub async fn dashboard(&self) -> Result<Dashboard, AppError> {
        let versions = self.store.current_versions().await?;
        let health: HealthNow = self
            .health
            .snapshot()
            .into_iter()
            .map(|(env, service, summary)| ((env, service), summary))
            .collect();
        let unfinished = self.store.unfinished_deployments().await?;
        let awaiting: HashSet<i64> = unfinished
            .iter()
            .filter(|job| job.state == DeployState::AwaitingApproval)
            .map(|job| job.id)
            .collect();
        let deploying: DeployingNow = unfinished
            .into_iter()
            .map(|job| ((job.environment, job.service), job.id))
            .collect();
        let mut dashboard = build(
            &self.config,
            &versions,
            &health,
            &deploying,
            Timestamp::now(),
        );
        let mut links = self.runbook_links();
        let open = self.store.open_incidents().await?;
        for row in &mut dashboard.services {
            row.runbooks_href = links.remove(&row.name);
            for cell in row.cells.iter_mut().filter(|c| c.target.is_some()) {
                cell.awaiting_approval = cell.deploying.is_some_and(|id| awaiting.contains(&id));
                cell.incident = open
                    .iter()
                    .find(|i| incidents::covers(i, &cell.environment, &row.name))
                    .map(|i| i.id);
            }
        }
        Ok(dashboard)
    }
}

/// Health as the monitor shows it now, per (environment, service).
pub type HealthNow = HashMap<(EnvName, ServiceName), HealthSummary>;

/// Unfinished deploys per (environment, service).
pub type DeployingNow = HashMap<(EnvName, ServiceName), i64>;

pub fn build(
    config: &Config,
    versions: &[VersionRecord],
    health: &HealthNow,
    deploying: &DeployingNow,
    now: Timestamp,
) -> Dashboard {
    let known: HashMap<(&EnvName, &ServiceName), &VersionRecord> = versions
        .iter()
        .map(|v| ((&v.environment, &v.service), v))
        .collect();

    let environments = config
        .environments
        .iter()
        .map(|env| EnvironmentColumn {
            name: env.name.clone(),
            protected: env.protected,
            backend: match &env.backend {
                Backend::Docker(_) => BackendSummary::Docker,
                Backend::Ecs(ecs) => BackendSummary::Ecs {
                    region: ecs.region.clone(),
                    cluster: ecs.cluster.clone(),
                },
            },
        })
        .collect();

    let services = config
        .services
        .iter()
        .map(|service| ServiceRow {
            name: service.name.clone(),
            description: service.description.clone(),
            owner: service.owner.clone(),
            // Filled in from the runbooks by `Views::dashboard`.
            runbooks_href: None,
            cells: config
                .environments
                .iter()
                .map(|env| {
                    let target = service.targets.get(&env.name);
                    Cell {
                        environment: env.name.clone(),
                        target: target.map(|t| t.kind.label().to_owned()),
                        health_url: target
                            .and_then(|t| t.health_url.as_ref())
                            .map(|u| u.to_string()),
                        // Only for configured targets: a leftover record of a removed target
                        // would otherwise show a version for something that is not there.
                        last_known: target
                            .and_then(|_| known.get(&(&env.name, &service.name)))
                            .map(|v| KnownVersion {
                                version: v.version.clone(),
                                image: v.image.clone(),
                                digest: v.digest.clone(),
                                observed_at: v.last_seen,
                            }),
                        differs_from: None,
                        // Filled in from the open incidents and the deploys' states by
                        // `Views::dashboard`.
                        incident: None,
                        awaiting_approval: false,
                        deploying: target
                            .and_then(|_| deploying.get(&(env.name.clone(), service.name.clone())))
                            .copied(),
                        health: target.map(|_| {
                            health
                                .get(&(env.name.clone(), service.name.clone()))
                                .cloned()
                                .unwrap_or_else(|| HealthSummary::unknown("not probed yet"))
                        }),
                    }
                })
                .collect(),
        })
        .collect();

    let services = mark_differences(services);

    Dashboard {
        title: config.console.title.clone(),
        generated_at: now,
        refresh_seconds: super::refresh_seconds(config),
        environments,
        services,
        freezes: config
            .freezes
            .iter()
            .map(|w| {
                let on = windows::occurrence_at(w, now);
                let after = on.map_or(now, |o| o.end);
                FreezeNotice {
                    name: w.name.clone(),
                    scope: windows::scope(w),
                    reason: w.reason.clone(),
                    on_until: on.map(|o| o.end),
                    next: windows::next_after(w, after).map(|o| (o.start, o.end)),
                }
            })
            .collect(),
    }
}

/// Marks each cell whose version differs from the nearest environment before it (in display
/// order) that runs the service: where staging and production part ways.
fn mark_differences(mut services: Vec<ServiceRow>) -> Vec<ServiceRow> {
    for row in &mut services {
        let mut before: Option<(EnvName, KnownVersion)> = None;
        for cell in &mut row.cells {
            let Some(known) = cell.last_known.clone() else {
                if cell.target.is_some() {
                    before = None;
                }
                continue;
            };
            if let Some((env, previous)) = &before {
                let same = match (&previous.digest, &known.digest) {
                    (Some(a), Some(b)) => a == b,
                    _ => previous.version == known.version,
                };
                if !same {
                    cell.differs_from = Some(env.clone());
                }
            }
            before = Some((cell.environment.clone(), known));
        }
    }
    services
}
