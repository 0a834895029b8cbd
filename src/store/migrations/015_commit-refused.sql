-- Up Migration

-- A commit is one statement (its own transaction): when the statement finds it may not write (an
-- idempotency record exists, a version it relied on has changed), it calls this, and the error rolls
-- the whole statement back. SQLSTATE WB409 tells the service it was refused, not broken.
CREATE FUNCTION commit_refused(reason text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION USING ERRCODE = 'WB409', MESSAGE = reason;
END
$$;

-- Down Migration
DROP FUNCTION commit_refused(text);
