//! Budgets: an environment's monthly amount and the thresholds its team wants to hear about,
//! held against what was spent (month to date) and what the month is forecast to cost.

use crate::config::BudgetSettings;
use crate::store::AwsBudget;

/// What a threshold is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Basis {
    /// What was spent so far this month.
    Actual,
    /// What the month is forecast to cost.
    Forecast,
}

impl Basis {
    pub fn as_str(self) -> &'static str {
        match self {
            Basis::Actual => "actual",
            Basis::Forecast => "forecast",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "actual" => Some(Basis::Actual),
            "forecast" => Some(Basis::Forecast),
            _ => None,
        }
    }
}

/// An amount (in millionths of a dollar) that, once reached on its basis, is worth telling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Threshold {
    pub micros: i64,
    pub basis: Basis,
}

/// A budget as the rules use it, wherever it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    pub limit_micros: i64,
    /// Ascending by amount.
    pub alerts: Vec<Threshold>,
}

const MICROS_PER_CENT: i64 = 10_000;

impl Budget {
    /// A budget written in the configuration: each alert is watched on both bases, so a
    /// forecast warns before the money is spent and the actual says when it was.
    pub fn configured(monthly_cents: i64, alerts_cents: &[i64]) -> Self {
        let mut alerts: Vec<Threshold> = alerts_cents
            .iter()
            .flat_map(|&cents| {
                [Basis::Actual, Basis::Forecast].map(|basis| Threshold {
                    micros: cents * MICROS_PER_CENT,
                    basis,
                })
            })
            .collect();
        alerts.sort();
        Self {
            limit_micros: monthly_cents * MICROS_PER_CENT,
            alerts,
        }
    }

    /// The budget of an environment: from its configuration, or as last read from AWS.
    pub fn of(settings: Option<&BudgetSettings>, from_aws: Option<&AwsBudget>) -> Option<Self> {
        match settings? {
            BudgetSettings::Configured {
                monthly_cents,
                alerts_cents,
            } => Some(Self::configured(*monthly_cents, alerts_cents)),
            BudgetSettings::Aws { .. } => from_aws.map(|b| {
                let mut alerts = b.alerts.clone();
                alerts.sort();
                Self {
                    limit_micros: b.limit_micros,
                    alerts,
                }
            }),
        }
    }

    /// The thresholds reached by `spent` (month to date) and `forecast`.
    pub fn crossed(
        &self,
        spent_micros: i64,
        forecast_micros: Option<i64>,
    ) -> Vec<(Threshold, i64)> {
        self.alerts
            .iter()
            .filter_map(|t| {
                let amount = match t.basis {
                    Basis::Actual => Some(spent_micros),
                    Basis::Forecast => forecast_micros,
                }?;
                (amount >= t.micros).then_some((*t, amount))
            })
            .collect()
    }
}

/// An AWS Budgets notification threshold in dollars: a percentage of the limit (the default
/// threshold type) or an absolute amount.
pub fn aws_threshold_micros(limit_micros: i64, threshold: f64, percentage: bool) -> i64 {
    #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
    // Budgets and thresholds are small sums of money.
    let micros = if percentage {
        (limit_micros as f64 * threshold / 100.0).round() as i64
    } else {
        (threshold * 1e6).round() as i64
    };
    micros
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOLLAR: i64 = 1_000_000;

    #[test]
    fn configured_alerts_are_watched_on_what_was_spent_and_on_the_forecast() {
        // Staging: $100 with alerts at $100, $130 and $150.
        let budget = Budget::configured(10_000, &[10_000, 13_000, 15_000]);
        assert_eq!(budget.limit_micros, 100 * DOLLAR);
        assert_eq!(budget.alerts.len(), 6);
        // $90 spent, $135 forecast: the forecast has passed $100 and $130, nothing spent has.
        let crossed = budget.crossed(90 * DOLLAR, Some(135 * DOLLAR));
        let shown: Vec<(i64, Basis)> = crossed
            .iter()
            .map(|(t, _)| (t.micros / DOLLAR, t.basis))
            .collect();
        assert_eq!(shown, [(100, Basis::Forecast), (130, Basis::Forecast)]);
        // Exactly at a threshold counts as reaching it; no forecast yet means none crossed.
        let crossed = budget.crossed(100 * DOLLAR, None);
        assert_eq!(crossed, [(budget.alerts[0], 100 * DOLLAR)]);
    }

    #[test]
    fn aws_thresholds_are_a_percentage_of_the_limit_unless_absolute() {
        assert_eq!(aws_threshold_micros(100 * DOLLAR, 80.0, true), 80 * DOLLAR);
        assert_eq!(
            aws_threshold_micros(100 * DOLLAR, 130.0, false),
            130 * DOLLAR
        );
        assert_eq!(aws_threshold_micros(12_500_000, 50.0, true), 6_250_000);
    }
}
