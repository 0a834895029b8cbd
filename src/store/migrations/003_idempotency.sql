-- Up Migration

-- Idempotency records: a referral per submitting party and its own referral id, a Communication per
-- business identifier, a portal document per document id. The primary key is the uniqueness
-- constraint; `key` is a keyed hash of the business key. `owner` is the ServiceRequest the record
-- belongs to, so that erasing a referral finds exactly its own records.
CREATE TABLE idempotency (
  scope text NOT NULL,
  key text NOT NULL,
  value jsonb NOT NULL,
  owner text,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_owner ON idempotency (owner) WHERE owner IS NOT NULL;

-- Down Migration
DROP TABLE idempotency;
