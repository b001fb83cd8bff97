//! [`NotifyStore`] on SQLite or PostgreSQL.

use async_trait::async_trait;
use flightdeck_app::model::{EnvName, ServiceName, Timestamp};
use sqlx::FromRow;

use super::{Pool, SqlStore, ts};
use crate::store::{
    Attempt, DeliveryRecord, DeliveryState, EventRecord, NewEvent, NotifyStore, StoreError,
};

/// A new event's id for receivers: random, so two consoles never hand out the same one.
pub(crate) fn event_id() -> String {
    let random = crate::random_id::random_hex(16)
        .unwrap_or_else(|| format!("{:x}", Timestamp::now().unix_millis()));
    format!("msg_{random}")
}

macro_rules! event_columns {
    () => {
        "e.id, e.event_id, e.kind, e.environment, e.service, e.actor, e.text, e.link, e.at"
    };
}

macro_rules! delivery_columns {
    () => {
        concat!(
            "d.id AS delivery_id, d.target, d.state, d.attempts, d.next_attempt_at, \
             d.last_attempt_at, d.last_status, d.last_error, d.delivered_at, ",
            event_columns!()
        )
    };
}

#[derive(FromRow)]
struct EventRow {
    id: i64,
    event_id: String,
    kind: String,
    environment: Option<String>,
    service: Option<String>,
    actor: String,
    text: String,
    link: String,
    at: i64,
}

impl TryFrom<EventRow> for EventRecord {
    type Error = StoreError;

    fn try_from(row: EventRow) -> Result<Self, StoreError> {
        let corrupt =
            |what: &str, v: &str| StoreError::Corrupt(format!("notify_events.{what} = {v:?}"));
        Ok(EventRecord {
            id: row.id,
            event_id: row.event_id,
            kind: row.kind,
            environment: row
                .environment
                .map(|e| EnvName::parse(&e).map_err(|_| corrupt("environment", &e)))
                .transpose()?,
            service: row
                .service
                .map(|s| ServiceName::parse(&s).map_err(|_| corrupt("service", &s)))
                .transpose()?,
            actor: row.actor,
            text: row.text,
            link: row.link,
            at: ts(row.at),
        })
    }
}

#[derive(FromRow)]
struct DeliveryRow {
    delivery_id: i64,
    target: String,
    state: String,
    attempts: i32,
    next_attempt_at: i64,
    last_attempt_at: Option<i64>,
    last_status: Option<i32>,
    last_error: String,
    delivered_at: Option<i64>,
    #[sqlx(flatten)]
    event: EventRow,
}

impl TryFrom<DeliveryRow> for DeliveryRecord {
    type Error = StoreError;

    fn try_from(row: DeliveryRow) -> Result<Self, StoreError> {
        Ok(DeliveryRecord {
            id: row.delivery_id,
            state: DeliveryState::parse(&row.state).ok_or_else(|| {
                StoreError::Corrupt(format!("notify_deliveries.state = {:?}", row.state))
            })?,
            target: row.target,
            attempts: u32::try_from(row.attempts).unwrap_or(0),
            next_attempt_at: ts(row.next_attempt_at),
            last_attempt_at: row.last_attempt_at.map(ts),
            last_status: row.last_status.and_then(|s| u16::try_from(s).ok()),
            last_error: row.last_error,
            delivered_at: row.delivered_at.map(ts),
            event: row.event.try_into()?,
        })
    }
}

fn deliveries(rows: Vec<DeliveryRow>) -> Result<Vec<DeliveryRecord>, StoreError> {
    rows.into_iter().map(DeliveryRecord::try_from).collect()
}

#[async_trait]
impl NotifyStore for SqlStore {
    #[tracing::instrument(skip_all, fields(kind = %event.kind))]
    async fn add_event(&self, event: &NewEvent) -> Result<EventRecord, StoreError> {
        let row: EventRow = on_pool!(self, |pool| sqlx::query_as(
            "INSERT INTO notify_events
                 (event_id, kind, environment, service, actor, text, link, at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             RETURNING id, event_id, kind, environment, service, actor, text, link, at"
        )
        .bind(event_id())
        .bind(&event.kind)
        .bind(event.environment.as_ref().map(EnvName::as_str))
        .bind(event.service.as_ref().map(ServiceName::as_str))
        .bind(&event.actor)
        .bind(&event.text)
        .bind(&event.link)
        .bind(event.at.unix_millis())
        .fetch_one(pool)
        .await)?;
        row.try_into()
    }

    #[tracing::instrument(skip_all)]
    async fn events_to_fan_out(&self, limit: u32) -> Result<Vec<EventRecord>, StoreError> {
        let rows: Vec<EventRow> = on_pool!(self, |pool| sqlx::query_as(concat!(
            "SELECT ",
            event_columns!(),
            " FROM notify_events e WHERE e.fanned_out = $1 ORDER BY e.id LIMIT $2"
        ))
        .bind(false)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await)?;
        rows.into_iter().map(EventRecord::try_from).collect()
    }

    #[tracing::instrument(skip_all, fields(event))]
    async fn fan_out(
        &self,
        event: i64,
        targets: &[String],
        at: Timestamp,
    ) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            let claimed = sqlx::query(
                "UPDATE notify_events SET fanned_out = $1 WHERE id = $2 AND fanned_out = $3",
            )
            .bind(true)
            .bind(event)
            .bind(false)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if claimed == 1 {
                for target in targets {
                    sqlx::query(
                        "INSERT INTO notify_deliveries (event, target, state, next_attempt_at)
                         VALUES ($1, $2, 'pending', $3)",
                    )
                    .bind(event)
                    .bind(target)
                    .bind(at.unix_millis())
                    .execute(&mut *tx)
                    .await?;
                }
            }
            tx.commit().await
        })?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(target))]
    async fn next_delivery(&self, target: &str) -> Result<Option<DeliveryRecord>, StoreError> {
        let row: Option<DeliveryRow> = on_pool!(self, |pool| sqlx::query_as(concat!(
            "SELECT ",
            delivery_columns!(),
            " FROM notify_deliveries d JOIN notify_events e ON e.id = d.event
              WHERE d.target = $1 AND d.state = 'pending' ORDER BY d.id LIMIT 1"
        ))
        .bind(target)
        .fetch_optional(pool)
        .await)?;
        row.map(DeliveryRecord::try_from).transpose()
    }

    #[tracing::instrument(skip_all, fields(target))]
    async fn same_round(
        &self,
        target: &str,
        after: i64,
        kind_prefix: &str,
        at: Timestamp,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        let pattern = format!("{kind_prefix}%");
        let rows: Vec<DeliveryRow> = on_pool!(self, |pool| sqlx::query_as(concat!(
            "SELECT ",
            delivery_columns!(),
            " FROM notify_deliveries d JOIN notify_events e ON e.id = d.event
              WHERE d.target = $1 AND d.state = 'pending' AND d.id > $2
                AND e.kind LIKE $3 AND e.at = $4
              ORDER BY d.id LIMIT 100"
        ))
        .bind(target)
        .bind(after)
        .bind(pattern)
        .bind(at.unix_millis())
        .fetch_all(pool)
        .await)?;
        deliveries(rows)
    }

    #[tracing::instrument(skip_all, fields(delivery))]
    async fn record_attempt(&self, delivery: i64, attempt: &Attempt) -> Result<(), StoreError> {
        let delivered =
            (attempt.state == DeliveryState::Delivered).then_some(attempt.at.unix_millis());
        on_pool!(self, |pool| sqlx::query(
            "UPDATE notify_deliveries
             SET state = $1, attempts = attempts + 1, last_attempt_at = $2, last_status = $3,
                 last_error = $4, next_attempt_at = $5, delivered_at = $6
             WHERE id = $7 AND state = 'pending'"
        )
        .bind(attempt.state.as_str())
        .bind(attempt.at.unix_millis())
        .bind(attempt.status.map(i32::from))
        .bind(&attempt.error)
        .bind(attempt.next_attempt_at.unix_millis())
        .bind(delivered)
        .bind(delivery)
        .execute(pool)
        .await
        .map(drop))?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(target))]
    async fn recent_deliveries(
        &self,
        target: &str,
        limit: u32,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        let rows: Vec<DeliveryRow> = on_pool!(self, |pool| sqlx::query_as(concat!(
            "SELECT ",
            delivery_columns!(),
            " FROM notify_deliveries d JOIN notify_events e ON e.id = d.event
              WHERE d.target = $1 ORDER BY d.id DESC LIMIT $2"
        ))
        .bind(target)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await)?;
        deliveries(rows)
    }
}
