//! Server functions: the browser's way into the back end. Each one reaches the back end through
//! [`crate::console::Console`] and does nothing else.

use leptos::prelude::*;

use crate::{error::ConsoleError, model::Dashboard};

/// The dashboard matrix.
#[server(endpoint = "dashboard")]
pub async fn load_dashboard() -> Result<Dashboard, ConsoleError> {
    crate::console::current()?.dashboard().await
}
