//! [`IncidentStore`] on SQLite or PostgreSQL. Scopes are comma-separated checked names.

use async_trait::async_trait;
use flightdeck_app::model::{EnvName, ServiceName, Severity, Timestamp};
use sqlx::FromRow;

use super::{Pool, SqlStore};
use crate::store::{
    EntryKind, EntryRecord, IncidentRecord, IncidentStore, NewIncident, StoreError, events,
};

#[derive(FromRow, Clone)]
struct IncidentRow {
    id: i64,
    title: String,
    severity: String,
    environments: String,
    services: String,
    runbooks: String,
    lead: String,
    declared_by: String,
    declared_at: i64,
    resolved_at: Option<i64>,
    resolved_by: Option<String>,
    summary: Option<String>,
}

/// The columns of [`IncidentRow`], as a literal so queries stay static strings.
macro_rules! incident_columns {
    () => {
        "id, title, severity, environments, services, runbooks, lead, declared_by, declared_at, \
         resolved_at, resolved_by, summary"
    };
}

#[derive(FromRow)]
struct EntryRow {
    at: i64,
    kind: String,
    author: String,
    text: String,
}

fn list<T>(text: &str, parse: impl Fn(&str) -> Option<T>) -> Result<Vec<T>, StoreError> {
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(|s| parse(s).ok_or_else(|| StoreError::Corrupt(format!("incidents: {text:?}"))))
        .collect()
}

fn joined<T: AsRef<str>>(items: &[T]) -> String {
    items
        .iter()
        .map(AsRef::as_ref)
        .collect::<Vec<_>>()
        .join(",")
}

impl TryFrom<IncidentRow> for IncidentRecord {
    type Error = StoreError;

    fn try_from(r: IncidentRow) -> Result<Self, StoreError> {
        Ok(IncidentRecord {
            id: r.id,
            title: r.title,
            severity: Severity::parse(&r.severity).ok_or_else(|| {
                StoreError::Corrupt(format!("incidents.severity = {:?}", r.severity))
            })?,
            environments: list(&r.environments, |s| EnvName::parse(s).ok())?,
            services: list(&r.services, |s| ServiceName::parse(s).ok())?,
            runbooks: list(&r.runbooks, |s| Some(s.to_owned()))?,
            lead: r.lead,
            declared_by: r.declared_by,
            declared_at: Timestamp::from_unix_millis(r.declared_at),
            resolved_at: r.resolved_at.map(Timestamp::from_unix_millis),
            resolved_by: r.resolved_by,
            summary: r.summary,
        })
    }
}

#[async_trait]
impl IncidentStore for SqlStore {
    async fn create_incident(&self, new: &NewIncident) -> Result<IncidentRecord, StoreError> {
        let row: IncidentRow = on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            let row: IncidentRow = sqlx::query_as(concat!(
                "INSERT INTO incidents (title, severity, environments, services, runbooks, lead,
                                        declared_by, declared_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ",
                incident_columns!()
            ))
            .bind(&new.title)
            .bind(new.severity.as_str())
            .bind(joined(
                &new.environments
                    .iter()
                    .map(EnvName::as_str)
                    .collect::<Vec<_>>(),
            ))
            .bind(joined(
                &new.services
                    .iter()
                    .map(ServiceName::as_str)
                    .collect::<Vec<_>>(),
            ))
            .bind(joined(&new.runbooks))
            .bind(&new.lead)
            .bind(&new.declared_by)
            .bind(new.at.unix_millis())
            .fetch_one(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO incident_entries (incident_id, at, kind, author, text, written_at)
                 VALUES ($1, $2, 'declared', $3, $4, $2)",
            )
            .bind(row.id)
            .bind(new.at.unix_millis())
            .bind(&new.declared_by)
            .bind(format!(
                "Declared {} ({}), led by {}",
                new.title,
                new.severity.as_str(),
                new.lead
            ))
            .execute(&mut *tx)
            .await?;
            // Announced with it.
            if let Ok(incident) = IncidentRecord::try_from(row.clone()) {
                insert_event!(&mut *tx, &events::incident_declared(&incident))?;
            }
            tx.commit().await.map(|()| row)
        })?;
        row.try_into()
    }

    async fn incident(&self, id: i64) -> Result<Option<IncidentRecord>, StoreError> {
        let row: Option<IncidentRow> = on_pool!(self, |pool| sqlx::query_as(concat!(
            "SELECT ",
            incident_columns!(),
            " FROM incidents WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(pool)
        .await)?;
        row.map(TryInto::try_into).transpose()
    }

    async fn open_incidents(&self) -> Result<Vec<IncidentRecord>, StoreError> {
        let rows: Vec<IncidentRow> = on_pool!(self, |pool| sqlx::query_as(concat!(
            "SELECT ",
            incident_columns!(),
            " FROM incidents WHERE resolved_at IS NULL ORDER BY id"
        ))
        .fetch_all(pool)
        .await)?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    async fn past_incidents(&self, limit: u32) -> Result<Vec<IncidentRecord>, StoreError> {
        let rows: Vec<IncidentRow> = on_pool!(self, |pool| sqlx::query_as(concat!(
            "SELECT ",
            incident_columns!(),
            " FROM incidents WHERE resolved_at IS NOT NULL ORDER BY id DESC LIMIT $1"
        ))
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await)?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    async fn add_incident_entry(
        &self,
        id: i64,
        entry: &EntryRecord,
        written_at: Timestamp,
    ) -> Result<bool, StoreError> {
        // Only while open: a resolved incident's record is final.
        let added = on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            let added = sqlx::query(
                "INSERT INTO incident_entries (incident_id, at, kind, author, text, written_at)
                 SELECT id, $2, $3, $4, $5, $6 FROM incidents
                 WHERE id = $1 AND resolved_at IS NULL",
            )
            .bind(id)
            .bind(entry.at.unix_millis())
            .bind(entry.kind.as_str())
            .bind(&entry.author)
            .bind(&entry.text)
            .bind(written_at.unix_millis())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            // A person's note is announced; what the console adds by itself is announced as
            // what it is (a deploy, a health change).
            if added == 1 && entry.kind == EntryKind::Note {
                let row: IncidentRow = sqlx::query_as(concat!(
                    "SELECT ",
                    incident_columns!(),
                    " FROM incidents WHERE id = $1"
                ))
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
                if let Ok(incident) = IncidentRecord::try_from(row) {
                    let event =
                        events::incident_noted(&incident, &entry.author, &entry.text, entry.at);
                    insert_event!(&mut *tx, &event)?;
                }
            }
            tx.commit().await.map(|()| added)
        })?;
        Ok(added == 1)
    }

    async fn incident_entries(&self, id: i64) -> Result<Vec<EntryRecord>, StoreError> {
        let rows: Vec<EntryRow> = on_pool!(self, |pool| sqlx::query_as(
            "SELECT at, kind, author, text FROM incident_entries WHERE incident_id = $1
             ORDER BY at, id"
        )
        .bind(id)
        .fetch_all(pool)
        .await)?;
        rows.into_iter()
            .map(|r| {
                Ok(EntryRecord {
                    at: Timestamp::from_unix_millis(r.at),
                    kind: EntryKind::parse(&r.kind).ok_or_else(|| {
                        StoreError::Corrupt(format!("incident_entries.kind = {:?}", r.kind))
                    })?,
                    author: r.author,
                    text: r.text,
                })
            })
            .collect()
    }

    async fn resolve_incident(
        &self,
        id: i64,
        by: &str,
        summary: &str,
        at: Timestamp,
    ) -> Result<bool, StoreError> {
        let resolved = on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            let done = sqlx::query(
                "UPDATE incidents SET resolved_at = $2, resolved_by = $3, summary = $4
                 WHERE id = $1 AND resolved_at IS NULL",
            )
            .bind(id)
            .bind(at.unix_millis())
            .bind(by)
            .bind(summary)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 1 {
                sqlx::query(
                    "INSERT INTO incident_entries (incident_id, at, kind, author, text, written_at)
                     VALUES ($1, $2, 'resolved', $3, $4, $2)",
                )
                .bind(id)
                .bind(at.unix_millis())
                .bind(by)
                .bind(format!("Resolved: {summary}"))
                .execute(&mut *tx)
                .await?;
                let row: IncidentRow = sqlx::query_as(concat!(
                    "SELECT ",
                    incident_columns!(),
                    " FROM incidents WHERE id = $1"
                ))
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
                if let Ok(incident) = IncidentRecord::try_from(row) {
                    insert_event!(&mut *tx, &events::incident_resolved(&incident))?;
                }
            }
            tx.commit().await.map(|()| done.rows_affected() == 1)
        })?;
        Ok(resolved)
    }
}
