//! Read models for the pages and the JSON API: the dashboard, a service's page, its deploy
//! panels, a promotion preview, one deploy, and what runs in an environment. Views read the
//! configuration, the store, the health monitor and the backends; they change nothing. The
//! caller's role is checked before a view is asked for (`crate::console`); a view reads the
//! role only to say what the caller may do next.

mod costs;
mod dashboard;
mod deploys;
mod matrix;
mod promotion;
mod revisions;
mod runbooks;
mod service;

use std::{collections::HashMap, sync::Arc};

use flightdeck_app::model::EnvName;

use crate::{
    backend::Backend,
    config::Config,
    costs::measure::Measurer,
    health::HealthMonitor,
    runbooks::Catalog,
    store::{KeptReads, Store},
};

pub use dashboard::BuiltMatrix;
pub use deploys::Detail;
pub use revisions::Revisions;

pub struct Views {
    config: Arc<Config>,
    store: Arc<dyn Store>,
    health: Arc<HealthMonitor>,
    backends: HashMap<EnvName, Arc<dyn Backend>>,
    runbooks: Arc<Catalog>,
    /// What AWS measured, kept in the store.
    measurer: Arc<Measurer>,
    /// The last costs page and the measurer's count of fetches it shows: the figures move
    /// slowly, and each page asks every backend.
    costs: tokio::sync::Mutex<Option<(Arc<flightdeck_app::model::CostsPage>, u64)>>,
    /// The dashboard's count of changes, kept by its own loop.
    revisions: Arc<Revisions>,
    /// The dashboard's table, rendered once per distinct matrix.
    matrix: matrix::MatrixCache,
    /// What the dashboard reads from the store, kept until the store's counts move.
    kept: Arc<KeptReads>,
    /// The last matrix built, with what it was built from.
    built: std::sync::Mutex<Option<(dashboard::MatrixInputs, Arc<BuiltMatrix>)>>,
}

impl Views {
    pub fn new(
        config: Arc<Config>,
        kept: Arc<KeptReads>,
        health: Arc<HealthMonitor>,
        backends: HashMap<EnvName, Arc<dyn Backend>>,
        runbooks: Arc<Catalog>,
        measurer: Arc<Measurer>,
        revisions: Arc<Revisions>,
    ) -> Self {
        Self {
            config,
            // The store itself for everything else.
            store: kept.store().clone(),
            health,
            backends,
            runbooks,
            measurer,
            costs: tokio::sync::Mutex::new(None),
            revisions,
            matrix: matrix::MatrixCache::default(),
            kept,
            built: std::sync::Mutex::new(None),
        }
    }
}

/// A matrix of one service ("shop", described as "The <b>shop</b>") in one environment (dev),
/// for the unit tests of what is built from a matrix.
#[cfg(test)]
pub(crate) fn one_cell_matrix(
    state: flightdeck_app::model::HealthState,
    version: &str,
    at_millis: i64,
) -> flightdeck_app::model::Dashboard {
    use flightdeck_app::model::{
        BackendSummary, Cell, CellHealth, Dashboard, EnvName, EnvironmentColumn, ServiceName,
        ServiceRow, Timestamp,
    };
    Dashboard {
        title: "t".into(),
        generated_at: Timestamp::from_unix_millis(at_millis),
        revision: 0,
        environments: vec![EnvironmentColumn {
            name: EnvName::parse("dev").unwrap(),
            protected: false,
            backend: BackendSummary::Docker,
        }],
        services: vec![ServiceRow {
            name: ServiceName::parse("shop").unwrap(),
            description: "The <b>shop</b>".into(),
            owner: None,
            runbooks_href: None,
            cells: vec![Cell {
                health: Some(CellHealth {
                    state,
                    reason: String::new(),
                    reports: None,
                }),
                version: Some(version.into()),
                differs_from: None,
                deploying: None,
                awaiting_approval: false,
                incident: None,
            }],
        }],
        freezes: Vec::new(),
    }
}
