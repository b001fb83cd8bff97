//! Health history: state changes with their reason, and probe results downsampled to one row
//! per target per minute (kept 7 days) and per hour (kept 90 days).

use async_trait::async_trait;
use flightdeck_app::model::{EnvName, HealthState, ServiceName, Timestamp};

use super::StoreError;

/// One change of the state shown for a service in an environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthTransitionRecord {
    pub environment: EnvName,
    pub service: ServiceName,
    pub from: HealthState,
    pub to: HealthState,
    pub reason: String,
    pub at: Timestamp,
}

impl From<HealthTransitionRecord> for flightdeck_app::model::HealthChange {
    fn from(t: HealthTransitionRecord) -> Self {
        Self {
            from: t.from,
            to: t.to,
            reason: t.reason,
            at: t.at,
        }
    }
}

/// What the probes of one target saw during one bucket (a minute or an hour).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthSample {
    pub environment: EnvName,
    pub service: ServiceName,
    pub bucket_start: Timestamp,
    /// Probe rounds that reached a verdict.
    pub checks: u64,
    /// Of those, the ones found healthy or degraded.
    pub up: u64,
    /// Latency of the HTTP probes, in microseconds.
    pub latency: Option<LatencyStats>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LatencyStats {
    pub count: u64,
    pub min_us: i64,
    pub sum_us: i64,
    pub max_us: i64,
}

impl LatencyStats {
    pub fn one(us: i64) -> Self {
        Self {
            count: 1,
            min_us: us,
            sum_us: us,
            max_us: us,
        }
    }

    pub fn add(&mut self, other: LatencyStats) {
        self.count += other.count;
        self.min_us = self.min_us.min(other.min_us);
        self.sum_us = self.sum_us.saturating_add(other.sum_us);
        self.max_us = self.max_us.max(other.max_us);
    }

    pub fn avg_us(&self) -> i64 {
        self.sum_us / i64::try_from(self.count.max(1)).unwrap_or(i64::MAX)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    Minute,
    Hour,
}

impl Resolution {
    pub fn bucket_millis(self) -> i64 {
        match self {
            Resolution::Minute => 60_000,
            Resolution::Hour => 3_600_000,
        }
    }

    /// The start of the bucket holding `at`.
    pub fn bucket_of(self, at: Timestamp) -> Timestamp {
        let ms = at.unix_millis();
        Timestamp::from_unix_millis(ms - ms.rem_euclid(self.bucket_millis()))
    }
}

/// Probe rounds over a window, for uptime.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HealthTotals {
    pub checks: u64,
    pub up: u64,
}

impl HealthTotals {
    /// From the sums the database answers (never negative; a negative one would count as 0).
    pub fn from_sums(checks: i64, up: i64) -> Self {
        Self {
            checks: u64::try_from(checks).unwrap_or(0),
            up: u64::try_from(up).unwrap_or(0),
        }
    }

    /// Percent of checks that found the service up; `None` without any check.
    pub fn uptime_percent(&self) -> Option<f64> {
        // Counts stay far below 2^52, so the conversion is exact.
        #[allow(clippy::cast_precision_loss)]
        (self.checks > 0).then(|| self.up as f64 * 100.0 / self.checks as f64)
    }
}

#[async_trait]
pub trait HealthStore: Send + Sync {
    async fn record_health_transition(
        &self,
        transition: &HealthTransitionRecord,
    ) -> Result<(), StoreError> {
        self.record_health_transitions(std::slice::from_ref(transition))
            .await
    }

    /// The changes of one probe round, with the events that announce them, in one
    /// transaction: a notification then carries the whole round.
    async fn record_health_transitions(
        &self,
        transitions: &[HealthTransitionRecord],
    ) -> Result<(), StoreError>;

    /// The newest transition of every target that has one: where each state shown came from,
    /// so a restart keeps "unhealthy since 09:12".
    async fn latest_health_transitions(&self) -> Result<Vec<HealthTransitionRecord>, StoreError>;

    /// Transitions of one target at or after `since`, newest first.
    async fn health_transitions(
        &self,
        environment: &EnvName,
        service: &ServiceName,
        since: Timestamp,
        limit: u32,
    ) -> Result<Vec<HealthTransitionRecord>, StoreError>;

    /// Adds per-minute samples (merging with a row already there, e.g. written just before a
    /// restart) and brings the hour rows that cover them up to date, in one transaction.
    async fn add_health_samples(&self, samples: &[HealthSample]) -> Result<(), StoreError>;

    /// Samples of one target at or after `since`, oldest first.
    async fn health_samples(
        &self,
        environment: &EnvName,
        service: &ServiceName,
        resolution: Resolution,
        since: Timestamp,
    ) -> Result<Vec<HealthSample>, StoreError>;

    /// Checks and ups of one target at or after `since`.
    async fn health_totals(
        &self,
        environment: &EnvName,
        service: &ServiceName,
        resolution: Resolution,
        since: Timestamp,
    ) -> Result<HealthTotals, StoreError>;

    /// The service page's uptime windows of one target in one statement: checks and ups at or
    /// after each of `minutes_since` from the minute rows, then at or after `hours_since` from
    /// the hour rows (which outlive the minutes).
    async fn uptime_totals(
        &self,
        environment: &EnvName,
        service: &ServiceName,
        minutes_since: [Timestamp; 2],
        hours_since: Timestamp,
    ) -> Result<[HealthTotals; 3], StoreError>;

    /// Deletes minute rows before `minutes_before`, hour rows before `hours_before` and
    /// transitions before `transitions_before`. Returns the number of rows removed.
    async fn prune_health(
        &self,
        minutes_before: Timestamp,
        hours_before: Timestamp,
        transitions_before: Timestamp,
    ) -> Result<u64, StoreError>;
}
