-- Up Migration

-- Lookups that had no index (found by test/store/index-use.test.ts, which EXPLAINs every statement
-- the service runs): a repeated referral looks for its Task's pending outbox message, and a Task
-- that leaves the queue or is erased drops its timers by Task id (the key leads with the kind).
CREATE INDEX outbox_task ON outbox (target, (body->>'taskId'));
CREATE INDEX timer_task ON timer (task_id);

-- Down Migration
DROP INDEX timer_task;
DROP INDEX outbox_task;
