//! Read models for the pages and the JSON API: the dashboard, a service's page, its deploy
//! panels, a promotion preview, one deploy, and what runs in an environment. Views read the
//! configuration, the store, the health monitor and the backends; they change nothing. The
//! caller's role is checked before a view is asked for (`crate::console`); a view reads the
//! role only to say what the caller may do next.

mod dashboard;
mod deploys;
mod promotion;
mod service;

use std::{collections::HashMap, sync::Arc};

use flightdeck_app::model::EnvName;

use crate::{
    backend::Backend, config::Config, health::HealthMonitor, runbooks::Catalog, store::Store,
};

pub use dashboard::build as build_dashboard;

pub struct Views {
    config: Arc<Config>,
    store: Arc<dyn Store>,
    health: Arc<HealthMonitor>,
    backends: HashMap<EnvName, Arc<dyn Backend>>,
    runbooks: Arc<Catalog>,
}

impl Views {
    pub fn new(
        config: Arc<Config>,
        store: Arc<dyn Store>,
        health: Arc<HealthMonitor>,
        backends: HashMap<EnvName, Arc<dyn Backend>>,
        runbooks: Arc<Catalog>,
    ) -> Self {
        Self {
            config,
            store,
            health,
            backends,
            runbooks,
        }
    }

    /// The runbooks as last read (the runbook pages are still to come).
    pub fn runbooks(&self) -> &Catalog {
        &self.runbooks
    }
}
