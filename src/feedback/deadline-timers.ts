import type { Task } from 'fhir/r4.js';
import type { Db, Sql } from '../store/postgres.js';
import type { Effect, Statement } from '../store/resource-store.js';
import { isFinished, QUEUED_STATUSES } from '../tasks/state-machine.js';

export type DeadlineKind = 'pickup-deadline-missed' | 'contact-deadline-missed';

/** Is the Task still in the state the deadline warns about? Once not, the deadline stops. */
export const DEADLINE_RUNS: Record<DeadlineKind, (task: Task) => boolean> = {
  'pickup-deadline-missed': (task) => QUEUED_STATUSES.includes(task.status),
  'contact-deadline-missed': (task) => !task.businessStatus && !isFinished(task.status),
};

export interface DueTimer {
  kind: DeadlineKind;
  taskId: string;
  teamId: string;
}

/** The deadline timers of the feedback domain (table `timer`): one per Task and kind. */
export class DeadlineTimers {
  constructor(private readonly db: Db) {}

  /** Sets a Task's timers, one per kind, in the transaction of the write they belong to. */
  schedule(taskId: string, teamId: string, due: Partial<Record<DeadlineKind, string>>): Statement {
    const kinds = Object.keys(due) as DeadlineKind[];
    return {
      text: `INSERT INTO timer (kind, task_id, team_id, due_at) SELECT kind, $1, $2, due_at FROM unnest($3::text[], $4::timestamptz[]) AS t(kind, due_at)
         ON CONFLICT (kind, task_id) DO UPDATE SET due_at = EXCLUDED.due_at`,
      values: [taskId, teamId, kinds, kinds.map((kind) => due[kind])],
    };
  }

  async clear(taskId: string, kinds: DeadlineKind[]): Promise<void> {
    await this.db.query('DELETE FROM timer WHERE task_id = $1 AND kind = ANY($2::text[])', [taskId, kinds]);
  }

  /** Erasure of a referral: its timers go with it. */
  erase(taskId: string): Effect {
    return { text: 'DELETE FROM timer WHERE task_id = $1', values: [taskId] };
  }

  /** Tasks of the team whose pick-up deadline has passed. */
  async overdue(teamId: string, now = new Date()): Promise<number> {
    const { rows } = await this.db.query<{ count: string }>(
      `SELECT count(*) FROM timer WHERE team_id = $1 AND kind = 'pickup-deadline-missed' AND due_at <= $2`,
      [teamId, now.toISOString()],
    );
    return Number(rows[0]!.count);
  }

  /** Locks up to `limit` due timers that no other process holds, for the transaction of `sql`. */
  async lockDue(sql: Sql, now: Date, limit = 100): Promise<DueTimer[]> {
    const { rows } = await sql.query<{ kind: DeadlineKind; task_id: string; team_id: string }>(
      'SELECT kind, task_id, team_id FROM timer WHERE due_at <= $1 ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED',
      [now.toISOString(), limit],
    );
    return rows.map((row) => ({ kind: row.kind, taskId: row.task_id, teamId: row.team_id }));
  }

  async remove(sql: Sql, timer: DueTimer): Promise<void> {
    await sql.query('DELETE FROM timer WHERE kind = $1 AND task_id = $2', [timer.kind, timer.taskId]);
  }
}
