//! The last error layer: turns back-end errors into what a user may see.
//!
//! Adapters and the store have their own error enums; they meet here in [`AppError`], which logs
//! the details once and hands the UI a [`ConsoleError`] with a message meant for people.

use flightdeck_app::error::ConsoleError;

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<AppError> for ConsoleError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Store(StoreError::Unavailable(detail)) => {
                tracing::warn!(%detail, "database unavailable");
                ConsoleError::Unavailable(
                    "the console's database does not answer; try again in a moment".to_owned(),
                )
            }
            AppError::Store(other) => {
                tracing::error!(error = %other, "store error");
                ConsoleError::Internal
            }
        }
    }
}
