-- Leases: work that one console of several sharing this database must do alone (the health
-- monitor's writes) belongs to the holder named here until expires_at (milliseconds since the
-- Unix epoch). The holder renews it; past expires_at any console may take it.
-- (SQLite has no TRUNCATE: its DELETE triggers already cover the audit log.)
CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
