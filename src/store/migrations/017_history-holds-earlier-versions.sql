-- Up Migration

-- A resource's current version is its row in `resource`; `resource_version` keeps only the versions
-- before it, so a create writes its content once instead of twice (a referral's seven resources were
-- a fifth of what intake wrote). The database itself moves the version an update replaces into the
-- history, whichever release wrote the update: one still running during an upgrade, which also
-- writes its current version there, leaves no version out and none twice.
CREATE FUNCTION resource_keep_replaced_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO resource_version (resource_type, id, version, last_updated, content)
  VALUES (OLD.resource_type, OLD.id, OLD.version, OLD.last_updated, OLD.content)
  ON CONFLICT DO NOTHING;
  RETURN NULL;
END $$;
-- Created first: it locks `resource` against writers until the copies below are gone, so no update
-- lands between a version's deletion here and its move into the history.
CREATE TRIGGER resource_keep_replaced_version AFTER UPDATE OF version ON resource
  FOR EACH ROW WHEN (OLD.version IS DISTINCT FROM NEW.version) EXECUTE FUNCTION resource_keep_replaced_version();

DELETE FROM resource_version v USING resource r WHERE v.resource_type = r.resource_type AND v.id = r.id AND v.version >= r.version;

-- Every version, for vread and _history. The earlier versions are those below the current one: a
-- release still writing its current version here during an upgrade shows no version twice.
CREATE VIEW resource_history AS
  SELECT resource_type, id, version, last_updated, content FROM resource
  UNION ALL
  SELECT v.resource_type, v.id, v.version, v.last_updated, v.content
  FROM resource_version v JOIN resource r USING (resource_type, id)
  WHERE v.version < r.version;

-- Down Migration
DROP VIEW resource_history;
DROP TRIGGER resource_keep_replaced_version ON resource;
DROP FUNCTION resource_keep_replaced_version();
INSERT INTO resource_version (resource_type, id, version, last_updated, content)
  SELECT resource_type, id, version, last_updated, content FROM resource
  ON CONFLICT DO NOTHING;
