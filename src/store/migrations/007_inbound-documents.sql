-- Up Migration

-- Portal documents as received (contract §5.2), with their conversion status. The unique
-- (portal, document_id) makes a repeated push answer with the first message.
CREATE TABLE inbound_message (
  id uuid PRIMARY KEY,
  portal text NOT NULL,
  document_id text NOT NULL,
  zd_number text NOT NULL,
  kind text NOT NULL,
  status text NOT NULL CHECK (status IN ('received', 'processed', 'failed')),
  received_at timestamptz NOT NULL DEFAULT now(),
  processed_at timestamptz,
  reason text,
  service_request text,
  task text,
  raw text NOT NULL,
  UNIQUE (portal, document_id)
);
CREATE INDEX inbound_message_failed ON inbound_message (received_at) WHERE status = 'failed';
CREATE INDEX inbound_message_referral ON inbound_message (portal, zd_number);
CREATE INDEX inbound_message_service_request ON inbound_message (service_request) WHERE service_request IS NOT NULL;

-- Down Migration
DROP TABLE inbound_message;
