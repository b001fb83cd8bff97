//! The notification outbox: events written with the changes they announce, and their
//! deliveries to each target. Building an event's words from a change is `store::events`.

use async_trait::async_trait;
use flightdeck_app::model::{EnvName, ServiceName, Timestamp};

use super::StoreError;

/// An event to announce, before it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// One of `config::EVENT_KINDS` (or `test`).
    pub kind: String,
    pub environment: Option<EnvName>,
    pub service: Option<ServiceName>,
    /// Who did it: an account, a token, or the console.
    pub actor: String,
    /// One line a person reads in the chat.
    pub text: String,
    /// The console page it is about, as a path.
    pub link: String,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRecord {
    pub id: i64,
    /// Stable across retries and consoles: receivers drop duplicates by it.
    pub event_id: String,
    pub kind: String,
    pub environment: Option<EnvName>,
    pub service: Option<ServiceName>,
    pub actor: String,
    pub text: String,
    pub link: String,
    pub at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    Pending,
    Delivered,
    /// Given up: a refusal that retrying cannot change, or out of attempts.
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Delivered, Self::Failed]
            .into_iter()
            .find(|d| d.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    pub id: i64,
    pub target: String,
    pub state: DeliveryState,
    pub attempts: u32,
    pub next_attempt_at: Timestamp,
    pub last_attempt_at: Option<Timestamp>,
    /// The receiver's HTTP status, when it answered.
    pub last_status: Option<u16>,
    pub last_error: String,
    pub delivered_at: Option<Timestamp>,
    pub event: EventRecord,
}

/// How one attempt went, to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub at: Timestamp,
    pub status: Option<u16>,
    pub error: String,
    /// What the delivery is now, and when to try again if it is still pending.
    pub state: DeliveryState,
    pub next_attempt_at: Timestamp,
}

#[async_trait]
pub trait NotifyStore: Send + Sync {
    /// Writes an event on its own (a test message; changes write theirs in their own
    /// transaction).
    async fn add_event(&self, event: &NewEvent) -> Result<EventRecord, StoreError>;

    /// Events not yet fanned out to targets, oldest first.
    async fn events_to_fan_out(&self, limit: u32) -> Result<Vec<EventRecord>, StoreError>;

    /// Marks `event` fanned out and queues one delivery per target in `targets`, in one
    /// transaction (a second look finds it done).
    async fn fan_out(
        &self,
        event: i64,
        targets: &[String],
        at: Timestamp,
    ) -> Result<(), StoreError>;

    /// The oldest delivery to `target` that is not delivered or given up: the one that must
    /// go first, so a target gets its messages in order.
    async fn next_delivery(&self, target: &str) -> Result<Option<DeliveryRecord>, StoreError>;

    /// Pending deliveries to `target` after `after` (by id) of events at exactly `at`: the rest
    /// of one health round, sent as one message.
    async fn same_round(
        &self,
        target: &str,
        after: i64,
        kind_prefix: &str,
        at: Timestamp,
    ) -> Result<Vec<DeliveryRecord>, StoreError>;

    async fn record_attempt(&self, delivery: i64, attempt: &Attempt) -> Result<(), StoreError>;

    /// The newest deliveries to `target`, newest first.
    async fn recent_deliveries(
        &self,
        target: &str,
        limit: u32,
    ) -> Result<Vec<DeliveryRecord>, StoreError>;
}
