-- Up Migration

-- Which definition of the search index (SEARCH_INDEX_VERSION in src/fhir/search-parameters.ts) the
-- rows of search_index follow. At start-up the service rebuilds the index once when it is older, so
-- that a search parameter added later also finds what was written before.
CREATE TABLE search_index_version (version integer NOT NULL);
INSERT INTO search_index_version (version) VALUES (1);

-- Down Migration
DROP TABLE search_index_version;
