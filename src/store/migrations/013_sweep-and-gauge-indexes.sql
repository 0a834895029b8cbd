-- Up Migration

-- The subscriptions' retention sweep removes notified or given-up events after their days: one
-- index range, however many events a busy subscription piled up.
CREATE INDEX subscription_event_settled ON subscription_event (occurred_at) WHERE status <> 'pending';

-- The portal documents gauge counts those not turned into a referral; processed ones stay for
-- years (until retention), so only the others are indexed.
CREATE INDEX inbound_message_unprocessed ON inbound_message (status) WHERE status <> 'processed';

-- Down Migration
DROP INDEX inbound_message_unprocessed;
DROP INDEX subscription_event_settled;
