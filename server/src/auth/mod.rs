//! Who may use the console: accounts and passwords, sessions, API tokens, sign-in throttling,
//! the permission check and the audit trail of it all.

mod authorize;
pub mod password;
mod secret;
mod service;
pub mod throttle;

pub use authorize::authorize;
pub use password::Password;
pub use secret::SecretToken;
// Made here, kept by the store: the types live below it.
pub use crate::store::{PasswordHash, SecretDigest};
pub use service::{AuthService, SESSION_COOKIE, SESSION_COOKIE_SECURE};
