-- Up Migration

-- Topic-based Subscriptions (FHIR R4 Subscriptions Backport IG): the subscription itself, in the
-- tenancy of the client that made it. `filter` holds the topic's filter parameters ({"owner": ...});
-- `events_since_start` numbers the events per subscription (eventsSinceSubscriptionStart), so a
-- receiver sees gaps. `failures` counts notifications given up on in a row; `error` holds a status
-- code or a short phrase, never patient data. `headers` are the receiver's own (its credentials).
CREATE TABLE subscription (
  id text PRIMARY KEY,
  tenant text NOT NULL,
  version integer NOT NULL DEFAULT 1,
  topic text NOT NULL,
  filter jsonb NOT NULL DEFAULT '{}',
  endpoint text NOT NULL,
  headers text[] NOT NULL DEFAULT '{}',
  content text NOT NULL CHECK (content IN ('empty', 'id-only')),
  heartbeat_seconds integer,
  timeout_seconds integer,
  end_at timestamptz,
  reason text,
  status text NOT NULL CHECK (status IN ('requested', 'active', 'error', 'off')),
  error text,
  events_since_start bigint NOT NULL DEFAULT 0,
  failures integer NOT NULL DEFAULT 0,
  last_sent_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX subscription_topic ON subscription (topic, tenant) WHERE status IN ('active', 'error', 'requested');
CREATE INDEX subscription_tenant ON subscription (tenant, id);

-- One row per event a subscription was told of, numbered within the subscription: what a
-- notification carries and what $events answers. Ids only: the focus is a reference. `source`
-- names the write the event came from, so an event handed on twice is numbered once.
CREATE TABLE subscription_event (
  subscription_id text NOT NULL REFERENCES subscription (id) ON DELETE CASCADE,
  number bigint NOT NULL,
  source uuid NOT NULL,
  focus text NOT NULL,
  created boolean NOT NULL,
  occurred_at timestamptz NOT NULL,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts integer NOT NULL DEFAULT 0,
  reason text,
  PRIMARY KEY (subscription_id, number),
  UNIQUE (subscription_id, source)
);
CREATE INDEX subscription_event_pending ON subscription_event (subscription_id) WHERE status = 'pending';

-- Down Migration
DROP TABLE subscription_event;
DROP TABLE subscription;
