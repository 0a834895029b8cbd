-- Up Migration

-- Delivery of a Communication to a practice's FHIR endpoint: the record that survives Redis. The
-- BullMQ job only carries out the current round, and is rebuilt from the pending rows.
-- `round` counts re-deliveries: a job of an earlier round finds the row moved on and does nothing.
-- `reason` holds a status code or element path, never patient data.
CREATE TABLE delivery (
  communication_id text PRIMARY KEY,
  practice_agb text NOT NULL,
  request_id text,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'parked')),
  round integer NOT NULL DEFAULT 0,
  attempts integer NOT NULL DEFAULT 0,
  reason text,
  created_at timestamptz NOT NULL DEFAULT now(),
  -- When the current round began (creation or re-delivery): what the latency metric measures from.
  queued_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  delivered_at timestamptz,
  parked_at timestamptz
);
CREATE INDEX delivery_status ON delivery (status, updated_at);

-- Down Migration
DROP TABLE delivery;
