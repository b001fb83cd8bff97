//! Store errors, in the terms the rest of the server acts on.

/// A failed query.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database does not answer (down, unreachable, pool exhausted, locked too long).
    /// Trying again later may work.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// A row with the same unique key exists already (a user or token name taken).
    #[error("already exists: {0}")]
    Duplicate(String),
    /// A row holds a value the code cannot accept (edited by hand, or a bug).
    #[error("the database holds an invalid value: {0}")]
    Corrupt(String),
    /// Any other database error; a bug in a query, most likely.
    #[error("database error: {0}")]
    Other(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        use sqlx::Error as E;
        match &e {
            E::PoolTimedOut | E::PoolClosed | E::Io(_) | E::Tls(_) | E::WorkerCrashed => {
                StoreError::Unavailable(e.to_string())
            }
            // SQLITE_BUSY / SQLITE_LOCKED after the busy timeout: another writer held on.
            E::Database(db) if matches!(db.code().as_deref(), Some("5" | "6" | "517")) => {
                StoreError::Unavailable(e.to_string())
            }
            E::Database(db) if db.is_unique_violation() => {
                StoreError::Duplicate(db.message().to_owned())
            }
            E::ColumnDecode { .. } | E::Decode(_) => StoreError::Corrupt(e.to_string()),
            _ => StoreError::Other(e.to_string()),
        }
    }
}

/// Why the database could not be opened at start-up. Every message names the database.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("invalid database URL `{url}`: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("cannot create the directory {dir} for the SQLite database: {reason}")]
    CreateDir { dir: String, reason: String },
    #[error("cannot open the SQLite database {path}: {reason}")]
    Sqlite { path: String, reason: String },
    #[error("cannot connect to PostgreSQL at {url}: {reason}")]
    Postgres { url: String, reason: String },
    #[error("cannot apply database migrations to {database}: {reason}")]
    Migrate { database: String, reason: String },
}
