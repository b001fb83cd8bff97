//! The dashboard matrix, from the configuration (what exists), the store (what the console has
//! seen running, and the deploys under way) and the monitor (health now).

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
};

use flightdeck_app::model::{
    BackendSummary, Cell, CellHealth, Dashboard, DeployState, EnvName, EnvironmentColumn,
    FreezeNotice, HealthSummary, ServiceName, ServiceRow, Timestamp,
};

use super::Views;
use crate::{
    config::{Backend, Config},
    error::AppError,
    incidents::{self, windows},
    store::{ChangeCounts, VersionRecord},
};

/// A matrix as built, with the fingerprint the revision count compares.
pub struct BuiltMatrix {
    pub dashboard: Dashboard,
    pub fingerprint: u64,
}

/// Everything a matrix is built from besides the configuration (fixed for the process): when
/// a load reads the same as the last build did, the last matrix is still right.
#[derive(PartialEq)]
pub(super) struct MatrixInputs {
    /// The store's counts of changes: versions, deploys and incidents.
    store: ChangeCounts,
    /// The monitor's count of changes shown.
    health: u64,
    /// The runbook catalog's count of changes (the runbook links).
    runbooks: u64,
    /// The freeze windows as they stand at the load's time.
    freezes: Vec<FreezeNotice>,
}

impl Views {
    /// The matrix now. Every call reads the store's counts of changes (which any console on
    /// the database moves) and what changes here (health, runbooks, the freezes at this
    /// moment). Only when any of it differs from the last build is the matrix built again:
    /// building 150 cells, hashing them and dropping them was most of a dashboard load's work,
    /// and the inputs move far less often than pages load.
    pub(super) async fn dashboard(&self) -> Result<Arc<BuiltMatrix>, AppError> {
        let current = self.kept.current().await?;
        let health = self.health.snapshot();
        let now = Timestamp::now();
        let inputs = MatrixInputs {
            store: current.counts,
            health: health.generation,
            runbooks: self.runbooks.generation(),
            freezes: freeze_notices(&self.config, now),
        };
        {
            let last = self.built.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((_, built)) = last.as_ref().filter(|(read, _)| *read == inputs) {
                return Ok(built.clone());
            }
        }

        let health: HealthNow = health
            .targets
            .iter()
            .map(|t| ((&t.environment, &t.service), &t.health))
            .collect();
        let deploying: DeployingNow = current
            .unfinished
            .iter()
            .map(|job| ((&job.environment, &job.service), job.id))
            .collect();
        let mut dashboard = build(
            &self.config,
            &current.versions,
            &health,
            &deploying,
            now,
            self.revisions.current(),
        );
        let awaiting: HashSet<i64> = current
            .unfinished
            .iter()
            .filter(|job| job.state == DeployState::AwaitingApproval)
            .map(|job| job.id)
            .collect();
        let mut links = self.runbook_links();
        for row in &mut dashboard.services {
            row.runbooks_href = links.remove(&row.name);
            let cells = row.cells.iter_mut().zip(&self.config.environments);
            for (cell, env) in cells.filter(|(c, _)| c.configured()) {
                cell.awaiting_approval = cell.deploying.is_some_and(|id| awaiting.contains(&id));
                cell.incident = current
                    .open_incidents
                    .iter()
                    .find(|i| incidents::covers(i, &env.name, &row.name))
                    .map(|i| i.id);
            }
        }
        let built = Arc::new(BuiltMatrix {
            fingerprint: super::revisions::fingerprint(&dashboard),
            dashboard,
        });
        *self.built.lock().unwrap_or_else(|p| p.into_inner()) = Some((inputs, built.clone()));
        Ok(built)
    }

    /// The matrix as the JSON API gives it: as of now, with its revision.
    pub async fn dashboard_now(&self) -> Result<Dashboard, AppError> {
        let built = self.dashboard().await?;
        Ok(Dashboard {
            // Read now, even when it was built earlier from the same inputs.
            generated_at: Timestamp::now(),
            revision: self.revisions.observe(built.fingerprint),
            ..built.dashboard.clone()
        })
    }
}

/// Health as the monitor shows it now, per (environment, service).
pub type HealthNow<'a> = HashMap<(&'a EnvName, &'a ServiceName), &'a HealthSummary>;

/// Unfinished deploys per (environment, service).
pub type DeployingNow<'a> = HashMap<(&'a EnvName, &'a ServiceName), i64>;

pub fn build(
    config: &Config,
    versions: &[VersionRecord],
    health: &HealthNow,
    deploying: &DeployingNow,
    now: Timestamp,
    revision: u64,
) -> Dashboard {
    // Looked up by borrowed names: two cloned names per cell were most of a build's
    // allocations.
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
        .map(|service| {
            // What runs in each environment, in display order, for the "differs" badges.
            let mut running = Vec::with_capacity(config.environments.len());
            let mut cells: Vec<Cell> = config
                .environments
                .iter()
                .map(|env| {
                    let target = service.targets.get(&env.name);
                    // Only for configured targets: a leftover record of a removed target
                    // would otherwise show a version for something that is not there.
                    let record = target.and_then(|_| known.get(&(&env.name, &service.name)));
                    running.push(match (target, record) {
                        (None, _) => Running::Absent,
                        (Some(_), None) => Running::Unknown,
                        (Some(_), Some(v)) => Running::Version(&v.version, v.digest.as_deref()),
                    });
                    Cell {
                        health: target.map(|_| {
                            health.get(&(&env.name, &service.name)).map_or_else(
                                || {
                                    CellHealth::from_summary(&HealthSummary::unknown(
                                        "not probed yet",
                                    ))
                                },
                                |summary| CellHealth::from_summary(summary),
                            )
                        }),
                        version: record.map(|v| v.version.clone()),
                        differs_from: None,
                        // Filled in from the open incidents and the deploys' states by
                        // `Views::dashboard`.
                        incident: None,
                        awaiting_approval: false,
                        deploying: target
                            .and_then(|_| deploying.get(&(&env.name, &service.name)))
                            .copied(),
                    }
                })
                .collect();
            for (i, before) in differences(&running).into_iter().enumerate() {
                cells[i].differs_from = before.map(|b| config.environments[b].name.clone());
            }
            ServiceRow {
                name: service.name.clone(),
                description: service.description.clone(),
                owner: service.owner.clone(),
                // Filled in from the runbooks by `Views::dashboard`.
                runbooks_href: None,
                cells,
            }
        })
        .collect();

    Dashboard {
        title: config.console.title.clone(),
        generated_at: now,
        revision,
        environments,
        services,
        freezes: freeze_notices(config, now),
    }
}

/// The configured freeze windows as they stand at `now`: on until when, and the next one.
fn freeze_notices(config: &Config, now: Timestamp) -> Vec<FreezeNotice> {
    config
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
        .collect()
}

/// What runs in one environment, for [`differences`].
#[derive(Debug, Clone, Copy)]
enum Running<'a> {
    /// The service has no target there.
    Absent,
    /// It has one, but its version is not known yet.
    Unknown,
    /// Version and digest (when the backend reports one).
    Version(&'a str, Option<&'a str>),
}

/// For each environment (display order), the index of the nearest environment before it that
/// runs the service, when the two run different versions: where staging and production part
/// ways. An unknown version breaks the chain. Digests decide when both are known, as one tag
/// can be pushed twice.
fn differences(running: &[Running<'_>]) -> Vec<Option<usize>> {
    let mut before: Option<(usize, &str, Option<&str>)> = None;
    running
        .iter()
        .enumerate()
        .map(|(i, here)| match *here {
            Running::Absent => None,
            Running::Unknown => {
                before = None;
                None
            }
            Running::Version(version, digest) => {
                let differs = before.and_then(|(b, v, d)| {
                    let same = match (d, digest) {
                        (Some(a), Some(b)) => a == b,
                        _ => v == version,
                    };
                    (!same).then_some(b)
                });
                before = Some((i, version, digest));
                differs
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{Running, differences};

    #[test]
    fn a_cell_differs_from_the_nearest_running_environment_before_it() {
        // dev 1, staging (not there), production 2: production differs from dev.
        let running = [
            Running::Version("1", None),
            Running::Absent,
            Running::Version("2", None),
        ];
        assert_eq!(differences(&running), [None, None, Some(0)]);
        // Same version everywhere: nothing differs.
        let running = [Running::Version("1", None), Running::Version("1", None)];
        assert_eq!(differences(&running), [None, None]);
    }

    #[test]
    fn digests_decide_when_both_are_known_and_an_unknown_version_breaks_the_chain() {
        let running = [
            Running::Version("1", Some("sha256:aa")),
            Running::Version("1", Some("sha256:bb")),
        ];
        assert_eq!(differences(&running), [None, Some(0)]);
        let running = [
            Running::Version("1", Some("sha256:aa")),
            Running::Unknown,
            Running::Version("2", Some("sha256:aa")),
        ];
        assert_eq!(differences(&running), [None, None, None]);
    }
}
