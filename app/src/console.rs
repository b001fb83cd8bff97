//! The port between the UI and the back end.
//!
//! Server functions are thin: they take the [`Console`] from the Leptos context, call one method
//! and return its result. The `server` crate implements the trait and provides it as context for
//! every request; tests may provide another implementation.

use std::sync::Arc;

use leptos::prelude::use_context;

use crate::{error::ConsoleError, model::Dashboard};

#[async_trait::async_trait]
pub trait Console: Send + Sync + 'static {
    /// The environment x service matrix with what the console knows of each cell.
    async fn dashboard(&self) -> Result<Dashboard, ConsoleError>;
}

/// What the server provides as Leptos context.
#[derive(Clone)]
pub struct ConsoleContext(pub Arc<dyn Console>);

/// The console of the current request.
pub fn current() -> Result<Arc<dyn Console>, ConsoleError> {
    use_context::<ConsoleContext>()
        .map(|c| c.0)
        // A wiring bug, not a user error: the router always provides it.
        .ok_or(ConsoleError::Internal)
}
