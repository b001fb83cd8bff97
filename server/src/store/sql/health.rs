//! [`HealthStore`] on SQLite or PostgreSQL. The SQL is the subset both understand; sums are
//! cast back to BIGINT because PostgreSQL widens `SUM(bigint)` to `numeric`.

use async_trait::async_trait;
use flightdeck_app::model::{EnvName, HealthState, ServiceName, Timestamp};
use sqlx::FromRow;

use super::{Pool, SqlStore, ts};
use crate::store::{
    HealthSample, HealthStore, HealthTotals, HealthTransitionRecord, LatencyStats, Resolution,
    StoreError,
};

#[derive(FromRow)]
struct TransitionRow {
    environment: String,
    service: String,
    from_state: String,
    to_state: String,
    reason: String,
    at: i64,
}

impl TryFrom<TransitionRow> for HealthTransitionRecord {
    type Error = StoreError;

    fn try_from(row: TransitionRow) -> Result<Self, StoreError> {
        let corrupt = |what: &str, value: &str| {
            StoreError::Corrupt(format!("health_transitions.{what} = {value:?}"))
        };
        let state =
            |what: &str, value: &str| HealthState::parse(value).ok_or_else(|| corrupt(what, value));
        Ok(HealthTransitionRecord {
            environment: EnvName::parse(&row.environment)
                .map_err(|_| corrupt("environment", &row.environment))?,
            service: ServiceName::parse(&row.service)
                .map_err(|_| corrupt("service", &row.service))?,
            from: state("from_state", &row.from_state)?,
            to: state("to_state", &row.to_state)?,
            reason: row.reason,
            at: ts(row.at),
        })
    }
}

#[derive(FromRow)]
struct SampleRow {
    bucket_start: i64,
    checks: i64,
    up: i64,
    latency_count: i64,
    latency_min_us: Option<i64>,
    latency_sum_us: i64,
    latency_max_us: Option<i64>,
}

impl SampleRow {
    fn into_sample(self, environment: &EnvName, service: &ServiceName) -> HealthSample {
        let count = u64::try_from(self.latency_count).unwrap_or(0);
        HealthSample {
            environment: environment.clone(),
            service: service.clone(),
            bucket_start: ts(self.bucket_start),
            checks: u64::try_from(self.checks).unwrap_or(0),
            up: u64::try_from(self.up).unwrap_or(0),
            latency: match (count, self.latency_min_us, self.latency_max_us) {
                (1.., Some(min_us), Some(max_us)) => Some(LatencyStats {
                    count,
                    min_us,
                    sum_us: self.latency_sum_us,
                    max_us,
                }),
                _ => None,
            },
        }
    }
}

fn signed(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The same statement for the minute and the hour table (sqlx needs static SQL).
macro_rules! per_resolution {
    ($resolution:expr, |$table:ident| $sql:expr) => {
        match $resolution {
            Resolution::Minute => {
                macro_rules! $table {
                    () => {
                        "health_minutes"
                    };
                }
                $sql
            }
            Resolution::Hour => {
                macro_rules! $table {
                    () => {
                        "health_hours"
                    };
                }
                $sql
            }
        }
    };
}

#[async_trait]
impl HealthStore for SqlStore {
    #[tracing::instrument(skip_all, fields(n = transitions.len()))]
    async fn record_health_transitions(
        &self,
        transitions: &[HealthTransitionRecord],
    ) -> Result<(), StoreError> {
        if transitions.is_empty() {
            return Ok(());
        }
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            for t in transitions {
                sqlx::query(
                    "INSERT INTO health_transitions
                         (environment, service, from_state, to_state, reason, at)
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(t.environment.as_str())
                .bind(t.service.as_str())
                .bind(t.from.as_str())
                .bind(t.to.as_str())
                .bind(&t.reason)
                .bind(t.at.unix_millis())
                .execute(&mut *tx)
                .await?;
                // Announced with it.
                if let Some(event) = crate::store::events::health_changed(t) {
                    insert_event!(&mut *tx, &event)?;
                }
            }
            tx.commit().await
        })?;
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    async fn latest_health_transitions(&self) -> Result<Vec<HealthTransitionRecord>, StoreError> {
        let rows: Vec<TransitionRow> = on_pool!(self, |pool| sqlx::query_as(
            "SELECT environment, service, from_state, to_state, reason, at
             FROM (SELECT *, ROW_NUMBER() OVER (
                       PARTITION BY environment, service ORDER BY at DESC, id DESC) AS newest
                   FROM health_transitions) AS t
             WHERE newest = 1",
        )
        .fetch_all(pool)
        .await)?;
        rows.into_iter()
            .map(HealthTransitionRecord::try_from)
            .collect()
    }

    #[tracing::instrument(skip_all, fields(env = %environment, service = %service))]
    async fn health_transitions(
        &self,
        environment: &EnvName,
        service: &ServiceName,
        since: Timestamp,
        limit: u32,
    ) -> Result<Vec<HealthTransitionRecord>, StoreError> {
        let rows: Vec<TransitionRow> = on_pool!(self, |pool| sqlx::query_as(
            "SELECT environment, service, from_state, to_state, reason, at
             FROM health_transitions
             WHERE environment = $1 AND service = $2 AND at >= $3
             ORDER BY at DESC, id DESC LIMIT $4",
        )
        .bind(environment.as_str())
        .bind(service.as_str())
        .bind(since.unix_millis())
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await)?;
        rows.into_iter()
            .map(HealthTransitionRecord::try_from)
            .collect()
    }

    #[tracing::instrument(skip_all, fields(samples = samples.len()))]
    async fn add_health_samples(&self, samples: &[HealthSample]) -> Result<(), StoreError> {
        if samples.is_empty() {
            return Ok(());
        }
        let mut hours: Vec<i64> = samples
            .iter()
            .map(|s| Resolution::Hour.bucket_of(s.bucket_start).unix_millis())
            .collect();
        hours.sort_unstable();
        hours.dedup();
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            for s in samples {
                let latency = s.latency;
                sqlx::query(
                    "INSERT INTO health_minutes
                         (environment, service, bucket_start, checks, up, latency_count,
                          latency_min_us, latency_sum_us, latency_max_us)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                     ON CONFLICT (environment, service, bucket_start) DO UPDATE SET
                         checks = health_minutes.checks + excluded.checks,
                         up = health_minutes.up + excluded.up,
                         latency_count = health_minutes.latency_count + excluded.latency_count,
                         latency_min_us = CASE
                             WHEN health_minutes.latency_min_us IS NULL
                               OR excluded.latency_min_us < health_minutes.latency_min_us
                             THEN excluded.latency_min_us ELSE health_minutes.latency_min_us END,
                         latency_sum_us = health_minutes.latency_sum_us + excluded.latency_sum_us,
                         latency_max_us = CASE
                             WHEN health_minutes.latency_max_us IS NULL
                               OR excluded.latency_max_us > health_minutes.latency_max_us
                             THEN excluded.latency_max_us ELSE health_minutes.latency_max_us END",
                )
                .bind(s.environment.as_str())
                .bind(s.service.as_str())
                .bind(Resolution::Minute.bucket_of(s.bucket_start).unix_millis())
                .bind(signed(s.checks))
                .bind(signed(s.up))
                .bind(signed(latency.map_or(0, |l| l.count)))
                .bind(latency.map(|l| l.min_us))
                .bind(latency.map_or(0, |l| l.sum_us))
                .bind(latency.map(|l| l.max_us))
                .execute(&mut *tx)
                .await?;
            }
            // Hour rows are recomputed from the minute rows, so a crash between two writes
            // never leaves them counting a minute twice or not at all.
            for hour in &hours {
                sqlx::query(
                    "INSERT INTO health_hours
                         (environment, service, bucket_start, checks, up, latency_count,
                          latency_min_us, latency_sum_us, latency_max_us)
                     SELECT environment, service, CAST($1 AS BIGINT),
                            CAST(SUM(checks) AS BIGINT), CAST(SUM(up) AS BIGINT),
                            CAST(SUM(latency_count) AS BIGINT), MIN(latency_min_us),
                            CAST(SUM(latency_sum_us) AS BIGINT), MAX(latency_max_us)
                     FROM health_minutes
                     WHERE bucket_start >= $1 AND bucket_start < $2
                     GROUP BY environment, service
                     ON CONFLICT (environment, service, bucket_start) DO UPDATE SET
                         checks = excluded.checks,
                         up = excluded.up,
                         latency_count = excluded.latency_count,
                         latency_min_us = excluded.latency_min_us,
                         latency_sum_us = excluded.latency_sum_us,
                         latency_max_us = excluded.latency_max_us",
                )
                .bind(*hour)
                .bind(*hour + Resolution::Hour.bucket_millis())
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await
        })?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(env = %environment, service = %service))]
    async fn health_samples(
        &self,
        environment: &EnvName,
        service: &ServiceName,
        resolution: Resolution,
        since: Timestamp,
    ) -> Result<Vec<HealthSample>, StoreError> {
        let sql = per_resolution!(resolution, |table| concat!(
            "SELECT bucket_start, checks, up, latency_count, latency_min_us, latency_sum_us,
                    latency_max_us
             FROM ",
            table!(),
            " WHERE environment = $1 AND service = $2 AND bucket_start >= $3
             ORDER BY bucket_start"
        ));
        let rows: Vec<SampleRow> = on_pool!(self, |pool| sqlx::query_as(sql)
            .bind(environment.as_str())
            .bind(service.as_str())
            .bind(since.unix_millis())
            .fetch_all(pool)
            .await)?;
        Ok(rows
            .into_iter()
            .map(|r| r.into_sample(environment, service))
            .collect())
    }

    #[tracing::instrument(skip_all, fields(env = %environment, service = %service))]
    async fn health_totals(
        &self,
        environment: &EnvName,
        service: &ServiceName,
        resolution: Resolution,
        since: Timestamp,
    ) -> Result<HealthTotals, StoreError> {
        let sql = per_resolution!(resolution, |table| concat!(
            "SELECT CAST(COALESCE(SUM(checks), 0) AS BIGINT), CAST(COALESCE(SUM(up), 0) AS BIGINT)
             FROM ",
            table!(),
            " WHERE environment = $1 AND service = $2 AND bucket_start >= $3"
        ));
        let (checks, up): (i64, i64) = on_pool!(self, |pool| sqlx::query_as(sql)
            .bind(environment.as_str())
            .bind(service.as_str())
            .bind(since.unix_millis())
            .fetch_one(pool)
            .await)?;
        Ok(HealthTotals::from_sums(checks, up))
    }

    #[tracing::instrument(skip_all, fields(env = %environment, service = %service))]
    async fn uptime_totals(
        &self,
        environment: &EnvName,
        service: &ServiceName,
        minutes_since: [Timestamp; 2],
        hours_since: Timestamp,
    ) -> Result<[HealthTotals; 3], StoreError> {
        // One pass over the minute rows of the longer window sums both windows; each side of
        // the join is an aggregate, so it is always one row.
        const SQL: &str = "
            SELECT m.c1, m.u1, m.c2, m.u2, h.c, h.u
            FROM (SELECT
                    CAST(COALESCE(SUM(CASE WHEN bucket_start >= $3 THEN checks END), 0) AS BIGINT) c1,
                    CAST(COALESCE(SUM(CASE WHEN bucket_start >= $3 THEN up END), 0) AS BIGINT) u1,
                    CAST(COALESCE(SUM(CASE WHEN bucket_start >= $4 THEN checks END), 0) AS BIGINT) c2,
                    CAST(COALESCE(SUM(CASE WHEN bucket_start >= $4 THEN up END), 0) AS BIGINT) u2
                  FROM health_minutes
                  WHERE environment = $1 AND service = $2 AND bucket_start >= $5) m
            CROSS JOIN
                 (SELECT CAST(COALESCE(SUM(checks), 0) AS BIGINT) c,
                         CAST(COALESCE(SUM(up), 0) AS BIGINT) u
                  FROM health_hours
                  WHERE environment = $1 AND service = $2 AND bucket_start >= $6) h";
        let earliest = minutes_since[0].min(minutes_since[1]);
        let (c1, u1, c2, u2, c, u): (i64, i64, i64, i64, i64, i64) =
            on_pool!(self, |pool| sqlx::query_as(SQL)
                .bind(environment.as_str())
                .bind(service.as_str())
                .bind(minutes_since[0].unix_millis())
                .bind(minutes_since[1].unix_millis())
                .bind(earliest.unix_millis())
                .bind(hours_since.unix_millis())
                .fetch_one(pool)
                .await)?;
        Ok([
            HealthTotals::from_sums(c1, u1),
            HealthTotals::from_sums(c2, u2),
            HealthTotals::from_sums(c, u),
        ])
    }

    #[tracing::instrument(skip_all)]
    async fn prune_health(
        &self,
        minutes_before: Timestamp,
        hours_before: Timestamp,
        transitions_before: Timestamp,
    ) -> Result<u64, StoreError> {
        let removed = on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            let mut removed = 0;
            for (sql, before) in [
                (
                    "DELETE FROM health_minutes WHERE bucket_start < $1",
                    minutes_before,
                ),
                (
                    "DELETE FROM health_hours WHERE bucket_start < $1",
                    hours_before,
                ),
                (
                    "DELETE FROM health_transitions WHERE at < $1",
                    transitions_before,
                ),
            ] {
                removed += sqlx::query(sql)
                    .bind(before.unix_millis())
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            }
            tx.commit().await?;
            Ok::<u64, sqlx::Error>(removed)
        })?;
        Ok(removed)
    }
}
