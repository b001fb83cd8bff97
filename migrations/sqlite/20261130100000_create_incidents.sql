-- Incidents and their timelines. While an incident is open, deploys and promotions into its
-- scope are refused (rollbacks and restarts are how incidents end). Times are milliseconds
-- since the Unix epoch.
CREATE TABLE incidents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    title TEXT NOT NULL,
    severity TEXT NOT NULL CHECK (severity IN ('SEV1', 'SEV2', 'SEV3')),
    -- Environment and service names are checked names (lowercase letters, digits, '-'), so a
    -- comma-separated list is unambiguous. No services means every service.
    environments TEXT NOT NULL,
    services TEXT NOT NULL DEFAULT '',
    -- Runbook addresses pinned to the top of the incident page.
    runbooks TEXT NOT NULL DEFAULT '',
    lead TEXT NOT NULL,
    declared_by TEXT NOT NULL,
    declared_at INTEGER NOT NULL,
    resolved_at INTEGER,
    resolved_by TEXT,
    summary TEXT
);

CREATE INDEX incidents_open ON incidents (resolved_at, id);

-- What happened, in the order it happened: notes people write (whose time may be set back to
-- when it happened) and what the console adds by itself (health changes, deploys, freezes).
CREATE TABLE incident_entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    at INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('declared', 'note', 'health', 'deploy', 'freeze',
                                       'resolved')),
    author TEXT NOT NULL,
    text TEXT NOT NULL,
    written_at INTEGER NOT NULL
);

CREATE INDEX incident_entries_by_incident ON incident_entries (incident_id, at, id);
