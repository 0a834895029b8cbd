-- Up Migration

-- A resource's current version is its row in `resource`; `resource_version` keeps only the versions
-- before it. A create then writes its content once instead of twice (a referral's seven resources
-- were a fifth of what intake wrote). `resource_history` shows every version, for vread and _history.
DELETE FROM resource_version v USING resource r WHERE v.resource_type = r.resource_type AND v.id = r.id AND v.version >= r.version;

-- The earlier versions are those below the current one: a replica of the previous release, still
-- writing the current version here during a rolling upgrade, shows no version twice.
CREATE VIEW resource_history AS
  SELECT resource_type, id, version, last_updated, content FROM resource
  UNION ALL
  SELECT v.resource_type, v.id, v.version, v.last_updated, v.content
  FROM resource_version v JOIN resource r USING (resource_type, id)
  WHERE v.version < r.version;

-- Down Migration
DROP VIEW resource_history;
INSERT INTO resource_version (resource_type, id, version, last_updated, content)
  SELECT resource_type, id, version, last_updated, content FROM resource
  ON CONFLICT DO NOTHING;
