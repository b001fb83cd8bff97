-- Counts of changes, so a reader can keep what it read until the count moves, whichever
-- console on the database made the change. `versions` moves with every new version period
-- (a new row of version_observations), in the transaction that adds it; a period extended in
-- place (last_seen_at) does not move it.
CREATE TABLE change_counts (
    name TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);

INSERT INTO change_counts (name, value) VALUES ('versions', 0);
