//! A point in time as milliseconds since the Unix epoch (UTC).
//!
//! Stored as a plain integer so SQLite and PostgreSQL hold the same value, and rendered from the
//! value itself (never from the clock of whoever renders it) so server and browser agree.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(i64);

impl Timestamp {
    pub const fn from_unix_millis(ms: i64) -> Self {
        Self(ms)
    }

    pub const fn unix_millis(self) -> i64 {
        self.0
    }

    /// The current time. Only the server calls this; pages render server-supplied times.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn now() -> Self {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Self(i64::try_from(now.as_millis()).unwrap_or(i64::MAX))
    }
}
