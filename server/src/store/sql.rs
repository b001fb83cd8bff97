//! [`Store`] on SQLite or PostgreSQL through sqlx.

use std::{path::Path, str::FromStr, time::Duration};

use async_trait::async_trait;
use flightdeck_app::model::{EnvName, Role, ServiceName, Timestamp};
use sqlx::{
    FromRow, PgPool, SqlitePool,
    postgres::PgPoolOptions,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

use super::{
    ChangeCounts, OpenError, Recorded, Store, StoreError, VersionObservation, VersionRecord,
    VersionSource, redact_url, url::DatabaseUrl,
};

/// How long a writer waits for another one before SQLite answers "busy".
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a query waits for a free connection, and a start-up for the first one.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs the same code against whichever pool is open. The body is compiled once per database,
/// so a query that one of them cannot run fails to build, not in production.
/// Writes a [`crate::store::NewEvent`] on the connection or transaction `$conn` (the change's
/// own, so the event is kept exactly when the change is), with a fresh event id.
macro_rules! insert_event {
    ($conn:expr, $event:expr) => {{
        let event: &$crate::store::NewEvent = $event;
        sqlx::query(
            "INSERT INTO notify_events
                 (event_id, kind, environment, service, actor, text, link, at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind($crate::store::sql::notify::event_id())
        .bind(&event.kind)
        .bind(event.environment.as_ref().map(|e| e.as_str()))
        .bind(event.service.as_ref().map(|s| s.as_str()))
        .bind(&event.actor)
        .bind(&event.text)
        .bind(&event.link)
        .bind(event.at.unix_millis())
        .execute($conn)
        .await
    }};
}

macro_rules! on_pool {
    ($store:expr, |$pool:ident| $body:expr) => {
        match &$store.pool {
            Pool::Sqlite($pool) => $body,
            Pool::Postgres($pool) => $body,
        }
    };
}

mod access;
mod costs;
mod deploy;
mod health;
mod incidents;
mod lease;
mod notify;

pub struct SqlStore {
    pool: Pool,
    describe: String,
}

impl SqlStore {
    pub async fn open(url: &str) -> Result<Self, OpenError> {
        let parsed = DatabaseUrl::parse(url).map_err(|reason| OpenError::BadUrl {
            url: redact_url(url),
            reason,
        })?;
        let store = match parsed {
            DatabaseUrl::Sqlite { path } => Self::open_sqlite(&path).await?,
            DatabaseUrl::Postgres { url } => Self::open_postgres(&url).await?,
        };
        store.migrate().await?;
        Ok(store)
    }

    async fn open_sqlite(path: &Path) -> Result<Self, OpenError> {
        let shown = path.display().to_string();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| OpenError::CreateDir {
                dir: dir.display().to_string(),
                reason: e.to_string(),
            })?;
        }
        let options = SqliteConnectOptions::from_str("sqlite:")
            .map_err(|e| OpenError::Sqlite {
                path: shown.clone(),
                reason: e.to_string(),
            })?
            .filename(path)
            .create_if_missing(true)
            // WAL lets the dashboard read while a deploy writes.
            .journal_mode(SqliteJournalMode::Wal)
            // NORMAL is durable across process crashes in WAL mode; only a power cut may lose
            // the last transactions.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(SQLITE_BUSY_TIMEOUT)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(|e| OpenError::Sqlite {
                path: shown.clone(),
                reason: sqlite_reason(&e, path),
            })?;
        // Opening is lazy about writing; make sure the file can take a write now, not at the
        // first deploy (a read-only directory or file fails here).
        sqlx::query("PRAGMA user_version = 0")
            .execute(&pool)
            .await
            .map_err(|e| OpenError::Sqlite {
                path: shown.clone(),
                reason: sqlite_reason(&e, path),
            })?;
        Ok(Self {
            pool: Pool::Sqlite(pool),
            describe: format!("sqlite {shown}"),
        })
    }

    async fn open_postgres(url: &str) -> Result<Self, OpenError> {
        let shown = redact_url(url);
        let pool = PgPoolOptions::new()
            .max_connections(10)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect(url)
            .await
            .map_err(|e| OpenError::Postgres {
                url: shown.clone(),
                reason: e.to_string(),
            })?;
        Ok(Self {
            pool: Pool::Postgres(pool),
            describe: format!("postgres {}", postgres_location(url)),
        })
    }

    /// Runs one static `UPDATE` whose parameters are a value (`$1`) and a row id (`$2`);
    /// returns how many rows it changed.
    async fn update_by_id(
        &self,
        sql: &'static str,
        value: i64,
        id: i64,
    ) -> Result<u64, StoreError> {
        Ok(on_pool!(self, |pool| sqlx::query(sql)
            .bind(value)
            .bind(id)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?)
    }

    async fn migrate(&self) -> Result<(), OpenError> {
        let result = match &self.pool {
            Pool::Sqlite(pool) => SQLITE_MIGRATIONS.run(pool).await,
            Pool::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await,
        };
        result.map_err(|e| OpenError::Migrate {
            database: self.describe.clone(),
            reason: migrate_reason(&e),
        })
    }
}

/// sqlx's words, and for a database a newer console has migrated, what to do: an older binary
/// does not know what those migrations changed, so it refuses rather than guess (during a
/// rolling update the older console keeps running; only its restart is refused).
fn migrate_reason(e: &sqlx::migrate::MigrateError) -> String {
    match e {
        sqlx::migrate::MigrateError::VersionMissing(_) => format!(
            "{e}: a newer Flightdeck has migrated this database; run that version or a newer one"
        ),
        _ => e.to_string(),
    }
}

/// SQLite's "unable to open database file" does not say why; add the likely cause.
fn sqlite_reason(e: &sqlx::Error, path: &Path) -> String {
    let text = e.to_string();
    if text.contains("unable to open") || text.contains("readonly") || text.contains("read-only") {
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        format!("{text} (is {} writable by this user?)", dir.display())
    } else {
        text
    }
}

/// `host:port/db` of a PostgreSQL URL: enough to tell databases apart, nothing secret.
fn postgres_location(url: &str) -> String {
    match ::url::Url::parse(url) {
        Ok(u) => format!(
            "{}:{}{}",
            u.host_str().unwrap_or("localhost"),
            u.port().unwrap_or(5432),
            u.path()
        ),
        Err(_) => "(unparsable URL)".to_owned(),
    }
}

#[derive(FromRow)]
struct VersionRow {
    environment: String,
    service: String,
    version: String,
    image: String,
    digest: Option<String>,
    source: String,
    first_seen_at: i64,
    last_seen_at: i64,
}

impl TryFrom<VersionRow> for VersionRecord {
    type Error = StoreError;

    fn try_from(row: VersionRow) -> Result<Self, StoreError> {
        let corrupt = |what: &str, value: &str| {
            StoreError::Corrupt(format!("version_observations.{what} = {value:?}"))
        };
        Ok(VersionRecord {
            environment: EnvName::parse(&row.environment)
                .map_err(|_| corrupt("environment", &row.environment))?,
            service: ServiceName::parse(&row.service)
                .map_err(|_| corrupt("service", &row.service))?,
            source: VersionSource::parse(&row.source)
                .ok_or_else(|| corrupt("source", &row.source))?,
            version: row.version,
            image: row.image,
            digest: row.digest,
            first_seen: Timestamp::from_unix_millis(row.first_seen_at),
            last_seen: Timestamp::from_unix_millis(row.last_seen_at),
        })
    }
}

fn ts(ms: i64) -> Timestamp {
    Timestamp::from_unix_millis(ms)
}

fn corrupt(table_column: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("{table_column} = {value:?}"))
}

fn parse_role(table: &str, value: &str) -> Result<Role, StoreError> {
    Role::parse(value).map_err(|_| corrupt(&format!("{table}.role"), value))
}

#[async_trait]
impl Store for SqlStore {
    fn describe(&self) -> &str {
        &self.describe
    }

    #[tracing::instrument(skip_all)]
    async fn ping(&self) -> Result<(), StoreError> {
        on_pool!(self, |pool| sqlx::query("SELECT 1")
            .execute(pool)
            .await
            .map(drop))?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(env = %obs.environment, service = %obs.service))]
    async fn record_version(&self, obs: &VersionObservation) -> Result<Recorded, StoreError> {
        // Update first: in SQLite the transaction then holds the write lock from its first
        // statement, so it never has to upgrade a read lock (which can fail as "busy").
        let updated = on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            let updated = sqlx::query(
                "UPDATE version_observations
                 SET last_seen_at = CASE WHEN last_seen_at > $1 THEN last_seen_at ELSE $1 END
                 WHERE id = (SELECT id FROM version_observations
                             WHERE environment = $2 AND service = $3
                             ORDER BY id DESC LIMIT 1)
                   AND version = $4 AND image = $5 AND digest IS NOT DISTINCT FROM $6",
            )
            .bind(obs.at.unix_millis())
            .bind(obs.environment.as_str())
            .bind(obs.service.as_str())
            .bind(&obs.version)
            .bind(&obs.image)
            .bind(obs.digest.as_deref())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if updated == 0 {
                sqlx::query(
                    "INSERT INTO version_observations
                         (environment, service, version, image, digest, source,
                          first_seen_at, last_seen_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
                )
                .bind(obs.environment.as_str())
                .bind(obs.service.as_str())
                .bind(&obs.version)
                .bind(&obs.image)
                .bind(obs.digest.as_deref())
                .bind(obs.source.as_str())
                .bind(obs.at.unix_millis())
                .execute(&mut *tx)
                .await?;
                sqlx::query("UPDATE change_counts SET value = value + 1 WHERE name = 'versions'")
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok::<u64, sqlx::Error>(updated)
        })?;
        Ok(if updated == 0 {
            Recorded::NewVersion
        } else {
            Recorded::StillRunning
        })
    }

    #[tracing::instrument(skip_all)]
    async fn current_versions(&self) -> Result<Vec<VersionRecord>, StoreError> {
        // Every dashboard load asks this. MAX(id) per pair reads the index (environment,
        // service, id) without sorting the history, which a window function over the whole
        // table did on every page.
        let rows: Vec<VersionRow> = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT environment, service, version, image, digest, source,
                        first_seen_at, last_seen_at
                 FROM version_observations
                 WHERE id IN (SELECT MAX(id) FROM version_observations
                              GROUP BY environment, service)
                 ORDER BY environment, service",
            )
            .fetch_all(pool)
            .await
        })?;
        rows.into_iter().map(VersionRecord::try_from).collect()
    }

    async fn change_counts(&self) -> Result<ChangeCounts, StoreError> {
        // One row of three numbers: every page load reads it, so no names are read back.
        let (versions, deployments, incidents): (Option<i64>, Option<i64>, Option<i64>) =
            on_pool!(self, |pool| {
                sqlx::query_as(
                    "SELECT (SELECT value FROM change_counts WHERE name = 'versions'),
                            (SELECT value FROM change_counts WHERE name = 'deployments'),
                            (SELECT value FROM change_counts WHERE name = 'incidents')",
                )
                .fetch_one(pool)
                .await
            })?;
        let count = |value: Option<i64>, name: &str| {
            value.ok_or_else(|| StoreError::Corrupt(format!("change_counts has no {name:?} row")))
        };
        Ok(ChangeCounts {
            versions: count(versions, "versions")?,
            deployments: count(deployments, "deployments")?,
            incidents: count(incidents, "incidents")?,
        })
    }

    #[tracing::instrument(skip_all, fields(env = %environment, service = %service))]
    async fn version_history(
        &self,
        environment: &EnvName,
        service: &ServiceName,
        limit: u32,
    ) -> Result<Vec<VersionRecord>, StoreError> {
        let rows: Vec<VersionRow> = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT environment, service, version, image, digest, source,
                        first_seen_at, last_seen_at
                 FROM version_observations
                 WHERE environment = $1 AND service = $2
                 ORDER BY id DESC LIMIT $3",
            )
            .bind(environment.as_str())
            .bind(service.as_str())
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await
        })?;
        rows.into_iter().map(VersionRecord::try_from).collect()
    }

    // --- accounts -------------------------------------------------------------------------

    async fn close(&self) {
        on_pool!(self, |pool| pool.close().await);
    }
}
