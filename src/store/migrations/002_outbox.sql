-- Up Migration

-- Work that must follow a write, committed in the same transaction. A message is deleted once its
-- handler succeeded; `available_at` holds back messages the writing request hands on itself, and
-- backs off after a failure.
CREATE TABLE outbox (
  id uuid PRIMARY KEY,
  target text NOT NULL,
  body jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  available_at timestamptz NOT NULL DEFAULT now(),
  attempts integer NOT NULL DEFAULT 0
);
CREATE INDEX outbox_due ON outbox (available_at, id);

-- Down Migration
DROP TABLE outbox;
