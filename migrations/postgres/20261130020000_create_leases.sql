-- Leases: work that one console of several sharing this database must do alone (the health
-- monitor's writes) belongs to the holder named here until expires_at (milliseconds since the
-- Unix epoch). The holder renews it; past expires_at any console may take it.
CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- The audit log already refuses UPDATE and DELETE row by row; TRUNCATE skips row triggers, so
-- it gets a statement trigger of its own.
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
