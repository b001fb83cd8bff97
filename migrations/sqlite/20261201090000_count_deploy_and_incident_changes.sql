-- Every change to a deployment or an incident moves its count in change_counts, in the
-- transaction that makes it, so a console may keep the deploys under way and the open
-- incidents it read until the count moves, whoever made the change. Triggers, not the store's
-- code, so no write path can forget it. SQLite's triggers are per row and per event.
INSERT INTO change_counts (name, value) VALUES ('deployments', 0), ('incidents', 0);

CREATE TRIGGER deployments_insert_counted AFTER INSERT ON deployments
BEGIN
    UPDATE change_counts SET value = value + 1 WHERE name = 'deployments';
END;

CREATE TRIGGER deployments_update_counted AFTER UPDATE ON deployments
BEGIN
    UPDATE change_counts SET value = value + 1 WHERE name = 'deployments';
END;

CREATE TRIGGER deployments_delete_counted AFTER DELETE ON deployments
BEGIN
    UPDATE change_counts SET value = value + 1 WHERE name = 'deployments';
END;

CREATE TRIGGER incidents_insert_counted AFTER INSERT ON incidents
BEGIN
    UPDATE change_counts SET value = value + 1 WHERE name = 'incidents';
END;

CREATE TRIGGER incidents_update_counted AFTER UPDATE ON incidents
BEGIN
    UPDATE change_counts SET value = value + 1 WHERE name = 'incidents';
END;

CREATE TRIGGER incidents_delete_counted AFTER DELETE ON incidents
BEGIN
    UPDATE change_counts SET value = value + 1 WHERE name = 'incidents';
END;
