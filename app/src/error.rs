//! The error every server function returns, in a form the page can match on.
//!
//! The server maps its internal errors (store, backend, config) into these variants and logs the
//! details; only the message meant for the user crosses the wire.

use leptos::server_fn::{
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", content = "message", rename_all = "snake_case")]
pub enum ConsoleError {
    /// Nobody is signed in, or the session has ended.
    #[error("Please sign in.")]
    Unauthenticated,
    /// Signed in, but the role does not allow this action.
    #[error("Not allowed: {0}")]
    Forbidden(String),
    #[error("Not found: {0}")]
    NotFound(String),
    /// Something else holds the resource (another deploy, a newer edit).
    #[error("{0}")]
    Conflict(String),
    /// A submitted value is wrong; `field` names the form field.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// A dependency (database, Docker Engine, AWS) does not answer; trying again may work.
    #[error("Temporarily unavailable: {0}")]
    Unavailable(String),
    /// A fault on the server; the details are in the server log, never in the response.
    #[error("Something went wrong on the server. The details are in its log.")]
    Internal,
    /// The request did not reach the server or its answer could not be read.
    #[error("Could not reach the console: {0}")]
    Transport(String),
}

impl ConsoleError {
    /// The HTTP status that fits, for server functions and API routes alike.
    pub fn status(&self) -> u16 {
        match self {
            ConsoleError::Unauthenticated => 401,
            ConsoleError::Forbidden(_) => 403,
            ConsoleError::NotFound(_) => 404,
            ConsoleError::Conflict(_) => 409,
            ConsoleError::Invalid { .. } => 400,
            ConsoleError::Unavailable(_) => 503,
            ConsoleError::Internal | ConsoleError::Transport(_) => 500,
        }
    }
}

impl FromServerFnError for ConsoleError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Args(m) | ServerFnErrorErr::MissingArg(m) => ConsoleError::Invalid {
                field: "request".to_owned(),
                message: m,
            },
            other => ConsoleError::Transport(other.to_string()),
        }
    }
}
