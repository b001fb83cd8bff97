-- Health history: every change of the state shown for a service in an environment, with its
-- reason, and the probe results downsampled so the store stays small (one row per target per
-- minute, kept 7 days; per hour, kept 90 days). Times are milliseconds since the Unix epoch.
CREATE TABLE health_transitions (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    environment TEXT NOT NULL,
    service TEXT NOT NULL,
    from_state TEXT NOT NULL
        CHECK (from_state IN ('healthy', 'degraded', 'unhealthy', 'unknown')),
    to_state TEXT NOT NULL
        CHECK (to_state IN ('healthy', 'degraded', 'unhealthy', 'unknown')),
    reason TEXT NOT NULL,
    at BIGINT NOT NULL
);

CREATE INDEX health_transitions_by_target ON health_transitions (environment, service, at);

-- checks: probe rounds that reached a verdict; up: those whose verdict was healthy or degraded.
-- Latency is over the HTTP probes of the bucket, in microseconds; NULL when there were none.
CREATE TABLE health_minutes (
    environment TEXT NOT NULL,
    service TEXT NOT NULL,
    bucket_start BIGINT NOT NULL,
    checks BIGINT NOT NULL,
    up BIGINT NOT NULL,
    latency_count BIGINT NOT NULL,
    latency_min_us BIGINT,
    latency_sum_us BIGINT NOT NULL,
    latency_max_us BIGINT,
    PRIMARY KEY (environment, service, bucket_start)
);

CREATE INDEX health_minutes_by_start ON health_minutes (bucket_start);

CREATE TABLE health_hours (
    environment TEXT NOT NULL,
    service TEXT NOT NULL,
    bucket_start BIGINT NOT NULL,
    checks BIGINT NOT NULL,
    up BIGINT NOT NULL,
    latency_count BIGINT NOT NULL,
    latency_min_us BIGINT,
    latency_sum_us BIGINT NOT NULL,
    latency_max_us BIGINT,
    PRIMARY KEY (environment, service, bucket_start)
);

CREATE INDEX health_hours_by_start ON health_hours (bucket_start);
