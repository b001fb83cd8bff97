-- A restart (the same release started again: a container restart, or a new ECS deployment of
-- the same task definition) is a deploy job of its own kind.
ALTER TABLE deployments DROP CONSTRAINT deployments_kind_check;
ALTER TABLE deployments ADD CONSTRAINT deployments_kind_check
    CHECK (kind IN ('deploy', 'rollback', 'promote', 'restart'));
