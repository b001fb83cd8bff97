-- What the console has seen running (or deployed) in each environment, one row per version
-- period: a new row when the version changes, otherwise last_seen_at moves forward.
-- Times are milliseconds since the Unix epoch (UTC), the same in SQLite and PostgreSQL.
CREATE TABLE version_observations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    environment TEXT NOT NULL,
    service TEXT NOT NULL,
    version TEXT NOT NULL,
    image TEXT NOT NULL,
    digest TEXT,
    source TEXT NOT NULL CHECK (source IN ('observed', 'deployed')),
    first_seen_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL
);

CREATE INDEX version_observations_by_target
    ON version_observations (environment, service, id);
