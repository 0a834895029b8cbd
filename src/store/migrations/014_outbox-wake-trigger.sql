-- Up Migration

-- A message for the relay alone (no writer hands it on: available at once) wakes the relay when its
-- transaction commits, on the channel the outbox listens to (`wor_outbox_<schema>`). Written by the
-- database, so the writer needs no round trip of its own for the NOTIFY.
CREATE FUNCTION outbox_wake_relay() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('wor_outbox_' || TG_TABLE_SCHEMA, NEW.id::text);
  RETURN NULL;
END
$$;
CREATE TRIGGER outbox_wake_relay AFTER INSERT ON outbox
  FOR EACH ROW WHEN (NEW.available_at <= NEW.created_at) EXECUTE FUNCTION outbox_wake_relay();

-- Down Migration
DROP TRIGGER outbox_wake_relay ON outbox;
DROP FUNCTION outbox_wake_relay();
