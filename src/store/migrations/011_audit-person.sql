-- Up Migration

-- NEN 7513 names the person, not only the client: the user a token names (sub with a name and/or
-- UZI number), as {"id", "name", "uzi"}; NULL for a system's own token. Part of the hashed facts.
ALTER TABLE audit_event ADD COLUMN person jsonb;

-- Down Migration
ALTER TABLE audit_event DROP COLUMN person;
