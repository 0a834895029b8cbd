-- Up Migration

-- Operators search every tenancy (a loose scan of the index finds the tenants) instead of a copy of
-- the whole index under the pseudo-tenant '_all': a third of the index's rows. Rows a replica of the
-- previous release still writes there during a rolling upgrade are found once, like any tenant's,
-- and go with the next version of their resource.
DELETE FROM search_index WHERE tenant = '_all';

-- Down Migration
INSERT INTO search_index (resource_type, tenant, param, value, last_updated, id)
  SELECT DISTINCT resource_type, '_all', param, value, last_updated, id FROM search_index;
