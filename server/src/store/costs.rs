//! What AWS Cost Explorer and AWS Budgets answered, kept so that every console sharing the
//! database reads it instead of paying $0.01 a request again, and the budget thresholds crossed.

use async_trait::async_trait;
use flightdeck_app::model::{EnvName, Timestamp};

use super::StoreError;
use crate::costs::budget::Threshold;

/// The last time an environment's costs were asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CostFetch {
    pub attempted_at: Timestamp,
    /// Why the last attempt failed; `None` when it succeeded.
    pub error: Option<String>,
    /// When figures were last received (the ones kept are from then).
    pub succeeded_at: Option<Timestamp>,
    /// The month (`2026-11`) the kept figures are for.
    pub month: String,
    /// The AWS budget read with them, when the environment names one.
    pub budget: Option<AwsBudget>,
}

/// An AWS budget: its monthly limit and its notifications' thresholds, in dollars.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsBudget {
    pub limit_micros: i64,
    pub alerts: Vec<Threshold>,
}

/// One day's cost of one service-tag value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CostDay {
    /// `2026-11-03`, UTC.
    pub day: String,
    /// The service tag's value; empty for the costs that carry none.
    pub group: String,
    pub micros: i64,
}

/// A threshold crossed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetCrossing {
    pub environment: EnvName,
    pub month: String,
    pub threshold: Threshold,
    /// What was spent (or forecast) when it was seen crossed.
    pub amount_micros: i64,
    pub crossed_at: Timestamp,
}

#[async_trait]
pub trait CostStore: Send + Sync {
    async fn cost_fetch(&self, environment: &EnvName) -> Result<Option<CostFetch>, StoreError>;

    /// The kept days of `month`, oldest first.
    async fn cost_days(
        &self,
        environment: &EnvName,
        month: &str,
    ) -> Result<Vec<CostDay>, StoreError>;

    /// Replaces the month's days with `days` and records a successful fetch, in one
    /// transaction: a reader sees the old figures or the new, never half.
    async fn save_costs(
        &self,
        environment: &EnvName,
        month: &str,
        at: Timestamp,
        days: &[CostDay],
        budget: Option<&AwsBudget>,
    ) -> Result<(), StoreError>;

    /// Records a failed attempt; the figures kept stay as they were.
    async fn save_cost_failure(
        &self,
        environment: &EnvName,
        month: &str,
        at: Timestamp,
        error: &str,
    ) -> Result<(), StoreError>;

    /// Records `crossing` unless that threshold was already crossed that month on that basis.
    /// Returns whether it is new.
    async fn record_budget_crossing(&self, crossing: &BudgetCrossing) -> Result<bool, StoreError>;

    /// The month's crossings, oldest first.
    async fn budget_crossings(
        &self,
        environment: &EnvName,
        month: &str,
    ) -> Result<Vec<BudgetCrossing>, StoreError>;
}
