//! Costs as the pages and the API show them: per service and environment, a monthly estimate
//! from what runs, with how it is made up. Money in cents.

use serde::{Deserialize, Serialize};

use super::{EnvName, ServiceName, Timestamp};

/// `/costs` and `GET /api/v1/costs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CostsPage {
    pub generated_at: Timestamp,
    /// When the built-in Fargate prices were last checked (`2026-11`).
    pub prices_as_of: String,
    /// In display order.
    pub environments: Vec<EnvironmentCosts>,
    /// In configuration order.
    pub services: Vec<ServiceCosts>,
    /// Every environment's total.
    pub total_cents: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvironmentCosts {
    pub name: EnvName,
    /// "Docker", "ECS eu-west-1".
    pub backend: String,
    /// The estimates of what runs plus the fixed items.
    pub total_cents: i64,
    pub fixed: Vec<FixedItem>,
    /// How a Docker host's cost is shared, or why there are no estimates here.
    pub note: Option<String>,
    /// What AWS Cost Explorer measured this month, when the environment asks it.
    pub measured: Option<MeasuredCosts>,
    pub budget: Option<BudgetView>,
}

/// An environment's month so far as AWS Cost Explorer counted it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeasuredCosts {
    /// `November 2026`.
    pub month: String,
    /// When the figures shown were received; `None` before the first success.
    pub fetched_at: Option<Timestamp>,
    /// Why the last attempt failed, with what to do; the figures shown (if any) are older.
    pub error: Option<String>,
    pub spent_cents: i64,
    /// To the end of the month at the whole days' average; `None` on the 1st.
    pub forecast_cents: Option<i64>,
    /// Each day's total, the 1st first, up to today (partial).
    pub daily_cents: Vec<i64>,
    /// Costs tagged with a service tag value that names no service, and the untagged rest
    /// (`name` "Untagged"), month to date.
    pub other: Vec<FixedItem>,
    /// A hint when the figures look wrong (nothing carries the service tag).
    pub note: Option<String>,
}

/// A monthly budget and where the month stands against each of its thresholds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetView {
    pub limit_cents: i64,
    /// "configured" or "AWS budget staging-monthly".
    pub source: String,
    /// Spent so far (measured), when known.
    pub spent_cents: Option<i64>,
    /// The month's forecast when measured, else the monthly estimate of what runs.
    pub forecast_cents: Option<i64>,
    /// Whether [`Self::forecast_cents`] is the estimate of what runs rather than measured.
    pub forecast_is_estimate: bool,
    pub thresholds: Vec<ThresholdView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThresholdView {
    pub cents: i64,
    /// "actual" (what was spent) or "forecast".
    pub basis: String,
    /// When the measured figures first reached it this month.
    pub crossed_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixedItem {
    pub name: String,
    pub monthly_cents: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceCosts {
    pub service: ServiceName,
    /// One per environment, in the same order as [`CostsPage::environments`].
    pub cells: Vec<CostCell>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CostCell {
    pub environment: EnvName,
    pub cost: Cost,
    /// What Cost Explorer counted for this service this month, where measured.
    pub measured: Option<MeasuredCell>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeasuredCell {
    pub spent_cents: i64,
    pub forecast_cents: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Cost {
    /// The service does not run in this environment.
    NotHere,
    /// A month at the tasks running now; and at the desired count when that differs.
    Estimate {
        monthly_cents: i64,
        desired_cents: Option<i64>,
        /// "1 task × (0.25 vCPU × $0.04048 + 0.5 GB × $0.004445) × 730 h, x86".
        how: String,
    },
    /// EC2 instances: on the AWS bill, not estimated here.
    FromBill,
    /// Not known now, and why ("the Docker Engine … does not answer").
    Unknown { reason: String },
}

impl MeasuredCell {
    /// "Measured: $5.80 this month, forecast $17.40".
    pub fn summary(&self) -> String {
        let forecast = self
            .forecast_cents
            .map(|f| format!(", forecast {}", dollars(f)))
            .unwrap_or_default();
        format!(
            "Measured: {} this month{forecast}",
            dollars(self.spent_cents)
        )
    }
}

impl Cost {
    /// What it adds to its environment's total.
    pub fn monthly_cents(&self) -> i64 {
        match self {
            Cost::Estimate { monthly_cents, .. } => *monthly_cents,
            _ => 0,
        }
    }
}

/// `$1,234.56` from cents.
pub fn dollars(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let cents = cents.unsigned_abs();
    let whole = (cents / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{sign}${grouped}.{:02}", cents % 100)
}

#[cfg(test)]
mod tests {
    use super::dollars;

    #[test]
    fn money_reads_like_money() {
        assert_eq!(dollars(2884), "$28.84");
        assert_eq!(dollars(5), "$0.05");
        assert_eq!(dollars(123_456_789), "$1,234,567.89");
        assert_eq!(dollars(-1241), "-$12.41");
    }
}
