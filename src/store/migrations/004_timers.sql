-- Up Migration

-- Deadline timers (pick-up, contact): due once, per Task and kind.
CREATE TABLE timer (
  kind text NOT NULL,
  task_id text NOT NULL,
  team_id text NOT NULL,
  due_at timestamptz NOT NULL,
  PRIMARY KEY (kind, task_id)
);
CREATE INDEX timer_due ON timer (due_at);
CREATE INDEX timer_team ON timer (team_id, kind, due_at);

-- Down Migration
DROP TABLE timer;
