//! The notifications admin page: each target, what it wants, and its recent deliveries.
//! Never a URL or a secret: those stay on the server.

use serde::{Deserialize, Serialize};

use super::Timestamp;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifyPage {
    pub targets: Vec<NotifyTargetView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifyTargetView {
    pub name: String,
    /// "slack" or "webhook (signed)".
    pub format: String,
    /// "every event", or the kinds and families it asked for.
    pub events: String,
    /// "every environment and service", or which.
    pub scope: String,
    /// Newest first.
    pub deliveries: Vec<DeliveryView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryView {
    pub kind: String,
    pub text: String,
    /// The console page it is about.
    pub link: String,
    pub happened_at: Timestamp,
    /// `pending`, `delivered` or `failed` (given up).
    pub state: String,
    pub attempts: u32,
    pub last_status: Option<u16>,
    pub last_attempt_at: Option<Timestamp>,
    /// For a pending one: when it is tried (again).
    pub next_attempt_at: Option<Timestamp>,
    pub error: String,
}
