-- Up Migration

-- The NEN 7513 audit trail: one compact row of facts per access (the FHIR AuditEvent is rebuilt
-- from them when read), hash-chained by the service. Append-only: UPDATE, DELETE and TRUNCATE are
-- refused by triggers. The one allowed removal is retention dropping a whole month, with
-- audit_event_drop_before() (DETACH + DROP), as the table's owner.
CREATE TABLE audit_event (
  seq bigint NOT NULL,
  recorded timestamptz NOT NULL,
  id uuid NOT NULL,
  action text NOT NULL,
  subtype text NOT NULL,
  outcome text NOT NULL,
  method text NOT NULL,
  route text NOT NULL,
  status smallint NOT NULL,
  client_id text NOT NULL,
  role text NOT NULL,
  org text NOT NULL,
  request_id text NOT NULL,
  patients text[] NOT NULL,
  resources text[] NOT NULL,
  -- HMAC-SHA256 (hex) of the previous row's hash and this row's facts; `previous` is kept so that
  -- the oldest row left after retention can still be checked.
  previous text NOT NULL,
  hash text NOT NULL,
  PRIMARY KEY (seq, recorded)
) PARTITION BY RANGE (recorded);
CREATE INDEX audit_event_patients ON audit_event USING gin (patients);
CREATE INDEX audit_event_client ON audit_event (client_id, seq);
CREATE INDEX audit_event_recorded ON audit_event (recorded);

-- The end of the chain (last sequence number, hash and time), locked by every append so that
-- several processes extend one chain; and its start (first kept sequence number and the hash before
-- it), moved only by retention. Appends never record a time before the head's, so that months
-- hold consecutive stretches of the chain and dropping the oldest months cuts off only its start.
CREATE TABLE audit_chain_head (
  only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
  seq bigint NOT NULL,
  hash text NOT NULL,
  recorded timestamptz NOT NULL,
  first_seq bigint NOT NULL,
  first_previous text NOT NULL
);
INSERT INTO audit_chain_head (seq, hash, recorded, first_seq, first_previous) VALUES (0, 'genesis', 'epoch', 1, 'genesis');

CREATE FUNCTION audit_event_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the audit trail is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END
$$;
-- Row triggers on a partitioned table are cloned to every partition; TRUNCATE triggers are not,
-- so audit_event_partition() adds one to each partition it creates.
CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event FOR EACH ROW EXECUTE FUNCTION audit_event_refuse_change();
CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event FOR EACH STATEMENT EXECUTE FUNCTION audit_event_refuse_change();

-- The head only moves forward: rewinding it to hide a deleted tail is refused like a DELETE.
CREATE FUNCTION audit_chain_head_forward_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'UPDATE' OR NEW.seq < OLD.seq OR (NEW.seq = OLD.seq AND NEW.hash <> OLD.hash) OR NEW.first_seq < OLD.first_seq THEN
    RAISE EXCEPTION 'the audit chain head only moves forward: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER audit_chain_head_forward_only BEFORE UPDATE OR DELETE ON audit_chain_head FOR EACH ROW EXECUTE FUNCTION audit_chain_head_forward_only();
CREATE TRIGGER audit_chain_head_no_truncate BEFORE TRUNCATE ON audit_chain_head FOR EACH STATEMENT EXECUTE FUNCTION audit_chain_head_forward_only();

-- Creates the partition of the (UTC) month of `at` unless it exists; returns its name.
CREATE FUNCTION audit_event_partition(at timestamptz) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  month timestamp := date_trunc('month', at AT TIME ZONE 'UTC');
  name text := 'audit_event_' || to_char(month, 'YYYYMM');
BEGIN
  -- Replicas starting together would otherwise race to create the same table.
  PERFORM pg_advisory_xact_lock(hashtext(current_schema() || '.audit_event_partition'));
  IF to_regclass(quote_ident(name)) IS NULL THEN
    EXECUTE format('CREATE TABLE %I PARTITION OF audit_event FOR VALUES FROM (%L) TO (%L)',
      name, month AT TIME ZONE 'UTC', (month + interval '1 month') AT TIME ZONE 'UTC');
    EXECUTE format('CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON %I FOR EACH STATEMENT EXECUTE FUNCTION audit_event_refuse_change()', name);
  END IF;
  RETURN name;
END
$$;

-- Retention: detaches and drops every month that ended before `cutoff`, and moves the chain's
-- start to the oldest row kept. Returns the number of months dropped.
CREATE FUNCTION audit_event_drop_before(cutoff timestamptz) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  part record;
  dropped integer := 0;
  head audit_chain_head%ROWTYPE;
  oldest record;
BEGIN
  SELECT * INTO head FROM audit_chain_head FOR UPDATE;
  FOR part IN
    SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'audit_event'::regclass
      AND (to_date(right(c.relname, 6), 'YYYYMM') + interval '1 month') AT TIME ZONE 'UTC' <= cutoff
  LOOP
    EXECUTE format('ALTER TABLE audit_event DETACH PARTITION %I', part.relname);
    EXECUTE format('DROP TABLE %I', part.relname);
    dropped := dropped + 1;
  END LOOP;
  IF dropped > 0 THEN
    SELECT seq, previous INTO oldest FROM audit_event ORDER BY seq LIMIT 1;
    IF FOUND THEN
      UPDATE audit_chain_head SET first_seq = oldest.seq, first_previous = oldest.previous;
    ELSE
      UPDATE audit_chain_head SET first_seq = head.seq + 1, first_previous = head.hash;
    END IF;
  END IF;
  RETURN dropped;
END
$$;

-- Down Migration
DROP FUNCTION audit_event_drop_before(timestamptz);
DROP FUNCTION audit_event_partition(timestamptz);
DROP TABLE audit_event;
DROP FUNCTION audit_event_refuse_change();
DROP TABLE audit_chain_head;
DROP FUNCTION audit_chain_head_forward_only();
