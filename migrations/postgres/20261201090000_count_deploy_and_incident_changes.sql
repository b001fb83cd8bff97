-- Every change to a deployment or an incident moves its count in change_counts, in the
-- transaction that makes it, so a console may keep the deploys under way and the open
-- incidents it read until the count moves, whoever made the change. Triggers, not the store's
-- code, so no write path can forget it.
--
-- Deferred constraint triggers run at commit, so the count's row is locked only for the
-- commit itself: a transaction takes its rows' locks first and the count's last, always in
-- that order, and no two transactions wait on each other through it. No transaction changes
-- both tables, so none takes both counts.
INSERT INTO change_counts (name, value) VALUES ('deployments', 0), ('incidents', 0);

CREATE FUNCTION count_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE change_counts SET value = value + 1 WHERE name = TG_ARGV[0];
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER deployments_counted
    AFTER INSERT OR UPDATE OR DELETE ON deployments
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION count_change('deployments');

CREATE CONSTRAINT TRIGGER incidents_counted
    AFTER INSERT OR UPDATE OR DELETE ON incidents
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION count_change('incidents');
