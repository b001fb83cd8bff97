-- Deploys as durable jobs: one row per request, moved through its states by the engine, with a
-- step log. Times are milliseconds since the Unix epoch.
CREATE TABLE deployments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    environment TEXT NOT NULL,
    service TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('deploy', 'rollback', 'promote')),
    -- What was asked for: the version label, the image reference to run, and for a promotion
    -- the environment it came from.
    version TEXT NOT NULL,
    image TEXT NOT NULL,
    digest TEXT,
    promoted_from TEXT,
    -- What ran before the switch, for rollback and for the history page.
    previous_version TEXT,
    previous_image TEXT,
    previous_digest TEXT,
    state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'verifying', 'succeeded',
                                         'failed', 'rolled_back', 'interrupted')),
    reason TEXT NOT NULL DEFAULT '',
    requested_by TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    started_at INTEGER,
    finished_at INTEGER,
    -- Moved forward by the worker while it runs the job; a stale one means the worker died.
    heartbeat_at INTEGER
);

-- A repeated request (a double click, a CI retry) finds the first one instead of deploying twice.
CREATE UNIQUE INDEX deployments_idempotency ON deployments (requested_by, idempotency_key);

-- The lock: at most one unfinished deploy per service and environment, enforced by the database
-- itself, so two consoles on one PostgreSQL cannot both take it.
CREATE UNIQUE INDEX deployments_one_active ON deployments (environment, service)
    WHERE state IN ('queued', 'running', 'verifying');

CREATE INDEX deployments_by_target ON deployments (environment, service, id);

CREATE TABLE deployment_steps (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    deployment_id INTEGER NOT NULL REFERENCES deployments (id),
    at INTEGER NOT NULL,
    message TEXT NOT NULL
);

CREATE INDEX deployment_steps_by_deployment ON deployment_steps (deployment_id, id);
