-- A restart (the same release started again: a container restart, or a new ECS deployment of
-- the same task definition) is a deploy job of its own kind.
--
-- SQLite cannot change a CHECK constraint, so both tables are copied into new ones: the steps
-- first out of the way (they refer to the deploys), then renamed into place, which also points
-- the steps' reference at the new deploys table. Same columns, indexes and ids as before.
CREATE TABLE deployments_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    environment TEXT NOT NULL,
    service TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('deploy', 'rollback', 'promote', 'restart')),
    version TEXT NOT NULL,
    image TEXT NOT NULL,
    digest TEXT,
    promoted_from TEXT,
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
    heartbeat_at INTEGER
);
INSERT INTO deployments_new
    (id, environment, service, kind, version, image, digest, promoted_from, previous_version,
     previous_image, previous_digest, state, reason, requested_by, idempotency_key, created_at,
     started_at, finished_at, heartbeat_at)
SELECT id, environment, service, kind, version, image, digest, promoted_from, previous_version,
       previous_image, previous_digest, state, reason, requested_by, idempotency_key, created_at,
       started_at, finished_at, heartbeat_at
FROM deployments;

CREATE TABLE deployment_steps_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    deployment_id INTEGER NOT NULL REFERENCES deployments_new (id),
    at INTEGER NOT NULL,
    message TEXT NOT NULL
);
INSERT INTO deployment_steps_new (id, deployment_id, at, message)
SELECT id, deployment_id, at, message FROM deployment_steps;

DROP TABLE deployment_steps;
DROP TABLE deployments;
ALTER TABLE deployments_new RENAME TO deployments;
ALTER TABLE deployment_steps_new RENAME TO deployment_steps;

CREATE UNIQUE INDEX deployments_idempotency ON deployments (requested_by, idempotency_key);
CREATE UNIQUE INDEX deployments_one_active ON deployments (environment, service)
    WHERE state IN ('queued', 'running', 'verifying');
CREATE INDEX deployments_by_target ON deployments (environment, service, id);
CREATE INDEX deployment_steps_by_deployment ON deployment_steps (deployment_id, id);
