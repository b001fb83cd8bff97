//! The last error layer: turns back-end errors into what a user may see.
//!
//! Adapters and the store have their own error enums; they meet here in [`AppError`], which logs
//! the details once and hands the UI a [`ConsoleError`] with a message meant for people.

use std::time::Duration;

use flightdeck_app::error::ConsoleError;

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Password hashing failed (the machine, not the user).
    #[error("{0}")]
    Hash(String),
    /// No valid session or token.
    #[error("not signed in")]
    Unauthenticated,
    /// Signed in, but the role does not allow it; the message says what would.
    #[error("{0}")]
    Denied(String),
    /// A wrong name or password. Deliberately the same for both.
    #[error("wrong name or password")]
    BadCredentials,
    /// Too many failed sign-ins; try again after the wait.
    #[error("too many failed sign-ins")]
    Throttled(Duration),
    /// A submitted value is wrong; `field` names the form field.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("not found: {0}")]
    NotFound(String),
    /// Something else holds it (another deploy).
    #[error("{0}")]
    Conflict(String),
    /// A backend (Docker Engine, AWS) does not answer.
    #[error("{0}")]
    Unavailable(String),
}

impl AppError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        AppError::Invalid {
            field: field.to_owned(),
            message: message.into(),
        }
    }
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
            AppError::Hash(e) => {
                tracing::error!(error = %e, "password hashing failed");
                ConsoleError::Internal
            }
            AppError::Unauthenticated => ConsoleError::Unauthenticated,
            AppError::Denied(message) => ConsoleError::Forbidden(message),
            AppError::BadCredentials => ConsoleError::Invalid {
                field: "password".to_owned(),
                message: "wrong name or password".to_owned(),
            },
            AppError::Throttled(wait) => ConsoleError::Invalid {
                field: "password".to_owned(),
                message: format!(
                    "too many failed sign-ins; try again in {} seconds",
                    wait.as_secs().max(1)
                ),
            },
            AppError::Invalid { field, message } => ConsoleError::Invalid { field, message },
            AppError::NotFound(what) => ConsoleError::NotFound(what),
            AppError::Conflict(what) => ConsoleError::Conflict(what),
            AppError::Unavailable(what) => ConsoleError::Unavailable(what),
        }
    }
}

/// The error and its sources, joined: a client's top-level text ("dispatch failure", "error
/// sending request") hides the useful part ("Connection refused").
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        parts.push(s.to_string());
        source = s.source();
    }
    parts.join(": ")
}
