//! Who may use the console: accounts and passwords, sessions, API tokens, sign-in throttling,
//! the permission check and the audit trail of it all.

mod authorize;
pub mod password;
mod secret;
mod service;
pub mod throttle;

pub use authorize::authorize;
pub use password::{Password, PasswordHash};
pub use secret::{SecretDigest, SecretToken};
pub use service::{AuthService, SESSION_COOKIE, SESSION_COOKIE_SECURE};
