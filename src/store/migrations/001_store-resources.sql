-- Up Migration

-- FHIR resources: the current version of each, with the tenancy tags of who may see it.
-- Content is `json`, not `jsonb`: it is stored and served exactly as written (element order kept).
CREATE TABLE resource (
  resource_type text NOT NULL,
  id text NOT NULL,
  version integer NOT NULL,
  last_updated timestamptz NOT NULL,
  acl text[] NOT NULL,
  content json NOT NULL,
  PRIMARY KEY (resource_type, id)
);

-- Every version ever written (vread, _history); the current one too.
CREATE TABLE resource_version (
  resource_type text NOT NULL,
  id text NOT NULL,
  version integer NOT NULL,
  last_updated timestamptz NOT NULL,
  content json NOT NULL,
  PRIMARY KEY (resource_type, id, version)
);

-- Search index of the current versions: one row per tenant that may see the resource, search
-- parameter and value (a keyed hash, so identifiers such as a BSN never appear in it). Keeping the
-- tenant and lastUpdated in the row lets one index range answer a page of a search newest-first,
-- whatever the size of the store: its cost follows the page, not the tenant's history.
CREATE TABLE search_index (
  resource_type text NOT NULL,
  tenant text NOT NULL,
  param text NOT NULL,
  value text NOT NULL,
  last_updated timestamptz NOT NULL,
  id text NOT NULL
);
CREATE INDEX search_index_page ON search_index (resource_type, tenant, param, value, last_updated DESC, id DESC);
CREATE INDEX search_index_of_resource ON search_index (resource_type, id);

-- Down Migration
DROP TABLE search_index;
DROP TABLE resource_version;
DROP TABLE resource;
