//! [`CostStore`] on SQLite or PostgreSQL.

use async_trait::async_trait;
use flightdeck_app::model::{EnvName, Timestamp};
use sqlx::FromRow;

use super::{Pool, SqlStore};
use crate::costs::budget::{Basis, Threshold};
use crate::store::{AwsBudget, BudgetCrossing, CostDay, CostFetch, CostStore, StoreError};

#[derive(FromRow)]
struct FetchRow {
    attempted_at: i64,
    error: Option<String>,
    succeeded_at: Option<i64>,
    month: String,
    budget_micros: Option<i64>,
    budget_alerts: Option<String>,
}

#[derive(FromRow)]
struct DayRow {
    day: String,
    grp: String,
    micros: i64,
}

#[derive(FromRow)]
struct CrossingRow {
    month: String,
    threshold_micros: i64,
    basis: String,
    amount_micros: i64,
    crossed_at: i64,
}

/// `actual:100000000,forecast:130000000`: an AWS budget's thresholds in one column.
fn alerts_text(alerts: &[Threshold]) -> String {
    alerts
        .iter()
        .map(|t| format!("{}:{}", t.basis.as_str(), t.micros))
        .collect::<Vec<_>>()
        .join(",")
}

fn parse_alerts(text: &str) -> Result<Vec<Threshold>, StoreError> {
    text.split(',')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (basis, micros) = part.split_once(':').unwrap_or((part, ""));
            match (Basis::parse(basis), micros.parse()) {
                (Some(basis), Ok(micros)) => Ok(Threshold { micros, basis }),
                _ => Err(StoreError::Corrupt(format!(
                    "cost_fetches.budget_alerts = {text:?}"
                ))),
            }
        })
        .collect()
}

#[async_trait]
impl CostStore for SqlStore {
    async fn cost_fetch(&self, environment: &EnvName) -> Result<Option<CostFetch>, StoreError> {
        let row: Option<FetchRow> = on_pool!(self, |pool| sqlx::query_as(
            "SELECT attempted_at, error, succeeded_at, month, budget_micros, budget_alerts
             FROM cost_fetches WHERE environment = $1"
        )
        .bind(environment.as_str())
        .fetch_optional(pool)
        .await)?;
        row.map(|row| {
            let budget = match (row.budget_micros, row.budget_alerts) {
                (Some(limit_micros), alerts) => Some(AwsBudget {
                    limit_micros,
                    alerts: parse_alerts(alerts.as_deref().unwrap_or_default())?,
                }),
                (None, _) => None,
            };
            Ok(CostFetch {
                attempted_at: Timestamp::from_unix_millis(row.attempted_at),
                error: row.error,
                succeeded_at: row.succeeded_at.map(Timestamp::from_unix_millis),
                month: row.month,
                budget,
            })
        })
        .transpose()
    }

    async fn cost_days(
        &self,
        environment: &EnvName,
        month: &str,
    ) -> Result<Vec<CostDay>, StoreError> {
        // Days of a month share its prefix: `2026-11-%`.
        let rows: Vec<DayRow> = on_pool!(self, |pool| sqlx::query_as(
            "SELECT day, grp, micros FROM cost_days
             WHERE environment = $1 AND day LIKE $2 ORDER BY day, grp"
        )
        .bind(environment.as_str())
        .bind(format!("{month}-%"))
        .fetch_all(pool)
        .await)?;
        Ok(rows
            .into_iter()
            .map(|r| CostDay {
                day: r.day,
                group: r.grp,
                micros: r.micros,
            })
            .collect())
    }

    async fn save_costs(
        &self,
        environment: &EnvName,
        month: &str,
        at: Timestamp,
        days: &[CostDay],
        budget: Option<&AwsBudget>,
    ) -> Result<(), StoreError> {
        let env = environment.as_str();
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            // Earlier months are kept (last month's figures stay readable); this month's
            // are replaced, since Cost Explorer revises recent days.
            sqlx::query("DELETE FROM cost_days WHERE environment = $1 AND day LIKE $2")
                .bind(env)
                .bind(format!("{month}-%"))
                .execute(&mut *tx)
                .await?;
            for d in days {
                sqlx::query(
                    "INSERT INTO cost_days (environment, day, grp, micros) VALUES ($1, $2, $3, $4)",
                )
                .bind(env)
                .bind(&d.day)
                .bind(&d.group)
                .bind(d.micros)
                .execute(&mut *tx)
                .await?;
            }
            sqlx::query(
                "INSERT INTO cost_fetches
                     (environment, attempted_at, error, succeeded_at, month, budget_micros,
                      budget_alerts)
                 VALUES ($1, $2, NULL, $2, $3, $4, $5)
                 ON CONFLICT (environment) DO UPDATE SET
                     attempted_at = excluded.attempted_at, error = NULL,
                     succeeded_at = excluded.succeeded_at, month = excluded.month,
                     budget_micros = excluded.budget_micros,
                     budget_alerts = excluded.budget_alerts",
            )
            .bind(env)
            .bind(at.unix_millis())
            .bind(month)
            .bind(budget.map(|b| b.limit_micros))
            .bind(budget.map(|b| alerts_text(&b.alerts)))
            .execute(&mut *tx)
            .await?;
            tx.commit().await
        })?;
        Ok(())
    }

    async fn save_cost_failure(
        &self,
        environment: &EnvName,
        month: &str,
        at: Timestamp,
        error: &str,
    ) -> Result<(), StoreError> {
        // A first attempt that fails still gets a row: the page says why there are no figures.
        on_pool!(self, |pool| sqlx::query(
            "INSERT INTO cost_fetches (environment, attempted_at, error, month)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (environment) DO UPDATE SET
                 attempted_at = excluded.attempted_at, error = excluded.error"
        )
        .bind(environment.as_str())
        .bind(at.unix_millis())
        .bind(error)
        .bind(month)
        .execute(pool)
        .await
        .map(drop))?;
        Ok(())
    }

    async fn record_budget_crossing(&self, crossing: &BudgetCrossing) -> Result<bool, StoreError> {
        let inserted = on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            let inserted = sqlx::query(
                "INSERT INTO budget_crossings
                     (environment, month, threshold_micros, basis, amount_micros, crossed_at)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (environment, month, threshold_micros, basis) DO NOTHING",
            )
            .bind(crossing.environment.as_str())
            .bind(&crossing.month)
            .bind(crossing.threshold.micros)
            .bind(crossing.threshold.basis.as_str())
            .bind(crossing.amount_micros)
            .bind(crossing.crossed_at.unix_millis())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            // The first time only: announced with it.
            if inserted == 1 {
                insert_event!(&mut *tx, &crate::store::events::budget_crossed(crossing))?;
            }
            tx.commit().await.map(|()| inserted)
        })?;
        Ok(inserted == 1)
    }

    async fn budget_crossings(
        &self,
        environment: &EnvName,
        month: &str,
    ) -> Result<Vec<BudgetCrossing>, StoreError> {
        let rows: Vec<CrossingRow> = on_pool!(self, |pool| sqlx::query_as(
            "SELECT month, threshold_micros, basis, amount_micros, crossed_at
             FROM budget_crossings WHERE environment = $1 AND month = $2
             ORDER BY crossed_at, threshold_micros"
        )
        .bind(environment.as_str())
        .bind(month)
        .fetch_all(pool)
        .await)?;
        rows.into_iter()
            .map(|r| {
                let basis = Basis::parse(&r.basis).ok_or_else(|| {
                    StoreError::Corrupt(format!("budget_crossings.basis = {:?}", r.basis))
                })?;
                Ok(BudgetCrossing {
                    environment: environment.clone(),
                    month: r.month,
                    threshold: Threshold {
                        micros: r.threshold_micros,
                        basis,
                    },
                    amount_micros: r.amount_micros,
                    crossed_at: Timestamp::from_unix_millis(r.crossed_at),
                })
            })
            .collect()
    }
}
