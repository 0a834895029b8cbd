-- Up Migration

-- The database itself moves the version an update replaces into `resource_version` (which keeps the
-- versions before the current one, migration 017), whichever code writes the update: the commit
-- statement does not, and a release still writing its current version there as well leaves no
-- version out and none twice.
CREATE FUNCTION resource_keep_replaced_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO resource_version (resource_type, id, version, last_updated, content)
  VALUES (OLD.resource_type, OLD.id, OLD.version, OLD.last_updated, OLD.content)
  ON CONFLICT DO NOTHING;
  RETURN NULL;
END $$;
CREATE TRIGGER resource_keep_replaced_version AFTER UPDATE OF version ON resource
  FOR EACH ROW WHEN (OLD.version IS DISTINCT FROM NEW.version) EXECUTE FUNCTION resource_keep_replaced_version();

-- Down Migration
DROP TRIGGER resource_keep_replaced_version ON resource;
DROP FUNCTION resource_keep_replaced_version();
