//! The server's implementation of the UI's [`Console`] port.

use std::sync::Arc;

use async_trait::async_trait;
use flightdeck_app::{
    console::Console,
    error::ConsoleError,
    model::{Dashboard, Timestamp},
};

use crate::{config::Config, dashboard, error::AppError, store::Store};

pub struct ConsoleService {
    config: Arc<Config>,
    store: Arc<dyn Store>,
}

impl ConsoleService {
    pub fn new(config: Arc<Config>, store: Arc<dyn Store>) -> Self {
        Self { config, store }
    }
}

#[async_trait]
impl Console for ConsoleService {
    async fn dashboard(&self) -> Result<Dashboard, ConsoleError> {
        let versions = self
            .store
            .current_versions()
            .await
            .map_err(AppError::from)?;
        Ok(dashboard::build(&self.config, &versions, Timestamp::now()))
    }
}
