-- Approvals: into an environment with `approvals`, a deploy or promotion waits in the state
-- `awaiting_approval` (holding the lock) until releasers other than the requester approve it,
-- one of them rejects it (`rejected`) or its time runs out (`expired`).
--
-- SQLite cannot change a CHECK constraint or a partial index's condition in place, so the
-- deploys and their steps are copied into new tables and renamed into place, as in
-- 20261130060000_allow_restart_jobs. Same ids; earlier jobs' requester is who requested them.
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
    state TEXT NOT NULL CHECK (state IN ('awaiting_approval', 'queued', 'running', 'verifying',
                                         'succeeded', 'failed', 'rolled_back', 'interrupted',
                                         'rejected', 'expired')),
    reason TEXT NOT NULL DEFAULT '',
    requested_by TEXT NOT NULL,
    -- The person answerable for the request (for an API token, whoever created the token):
    -- the one person who may not approve it.
    requester TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    -- How many approvals it needs (0: none), and until when they may come.
    approvals_required INTEGER NOT NULL DEFAULT 0,
    approval_expires_at INTEGER,
    created_at INTEGER NOT NULL,
    started_at INTEGER,
    finished_at INTEGER,
    heartbeat_at INTEGER
);
INSERT INTO deployments_new
    (id, environment, service, kind, version, image, digest, promoted_from, previous_version,
     previous_image, previous_digest, state, reason, requested_by, requester, idempotency_key,
     created_at, started_at, finished_at, heartbeat_at)
SELECT id, environment, service, kind, version, image, digest, promoted_from, previous_version,
       previous_image, previous_digest, state, reason, requested_by, requested_by,
       idempotency_key, created_at, started_at, finished_at, heartbeat_at
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
    WHERE state IN ('awaiting_approval', 'queued', 'running', 'verifying');
CREATE INDEX deployments_by_target ON deployments (environment, service, id);
CREATE INDEX deployments_awaiting ON deployments (state, approval_expires_at);
CREATE INDEX deployment_steps_by_deployment ON deployment_steps (deployment_id, id);

-- Each approver's word, one per person per job.
CREATE TABLE deployment_approvals (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    deployment_id INTEGER NOT NULL REFERENCES deployments (id),
    person TEXT NOT NULL,
    by_name TEXT NOT NULL,
    approved INTEGER NOT NULL CHECK (approved IN (0, 1)),
    comment TEXT NOT NULL DEFAULT '',
    at INTEGER NOT NULL,
    UNIQUE (deployment_id, person)
);
