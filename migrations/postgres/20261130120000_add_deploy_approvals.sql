-- Approvals: into an environment with `approvals`, a deploy or promotion waits in the state
-- `awaiting_approval` (holding the lock) until releasers other than the requester approve it,
-- one of them rejects it (`rejected`) or its time runs out (`expired`).
ALTER TABLE deployments DROP CONSTRAINT deployments_state_check;
ALTER TABLE deployments ADD CONSTRAINT deployments_state_check
    CHECK (state IN ('awaiting_approval', 'queued', 'running', 'verifying', 'succeeded',
                     'failed', 'rolled_back', 'interrupted', 'rejected', 'expired'));

-- The person answerable for the request (for an API token, whoever created the token): the
-- one person who may not approve it. Earlier jobs' requester is who requested them.
ALTER TABLE deployments ADD COLUMN requester TEXT NOT NULL DEFAULT '';
UPDATE deployments SET requester = requested_by;
ALTER TABLE deployments ALTER COLUMN requester DROP DEFAULT;
-- How many approvals it needs (0: none), and until when they may come.
ALTER TABLE deployments ADD COLUMN approvals_required INTEGER NOT NULL DEFAULT 0;
ALTER TABLE deployments ADD COLUMN approval_expires_at BIGINT;

-- The lock now covers a job awaiting approval too.
DROP INDEX deployments_one_active;
CREATE UNIQUE INDEX deployments_one_active ON deployments (environment, service)
    WHERE state IN ('awaiting_approval', 'queued', 'running', 'verifying');
CREATE INDEX deployments_awaiting ON deployments (state, approval_expires_at);

-- Each approver's word, one per person per job.
CREATE TABLE deployment_approvals (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    deployment_id BIGINT NOT NULL REFERENCES deployments (id),
    person TEXT NOT NULL,
    by_name TEXT NOT NULL,
    approved BOOLEAN NOT NULL,
    comment TEXT NOT NULL DEFAULT '',
    at BIGINT NOT NULL,
    UNIQUE (deployment_id, person)
);
