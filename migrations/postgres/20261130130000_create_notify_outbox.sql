-- The notification outbox. An event is written in the same transaction as the change it
-- announces, so a crash can delay a notification but never lose it. The console that holds
-- the `notify` lease fans each event out to the targets that want it (one delivery per
-- target) and sends them, in order per target, retrying with backoff.
CREATE TABLE notify_events (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Sent to receivers (`webhook-id`) so they can drop a duplicate: stable across retries
    -- and consoles.
    event_id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    environment TEXT,
    service TEXT,
    actor TEXT NOT NULL DEFAULT '',
    text TEXT NOT NULL,
    -- The console page it is about, as a path (/deployments/12).
    link TEXT NOT NULL DEFAULT '',
    at BIGINT NOT NULL,
    fanned_out BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX notify_events_waiting ON notify_events (fanned_out, id);

CREATE TABLE notify_deliveries (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event BIGINT NOT NULL REFERENCES notify_events (id),
    target TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_attempt_at BIGINT,
    last_status INTEGER,
    last_error TEXT NOT NULL DEFAULT '',
    delivered_at BIGINT,
    UNIQUE (event, target)
);
CREATE INDEX notify_deliveries_by_target ON notify_deliveries (target, state, id);
