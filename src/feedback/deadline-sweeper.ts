import type { FastifyBaseLogger } from 'fastify';
import type { Counter } from 'prom-client';
import type { Task } from 'fhir/r4.js';
import { transaction, type Db } from '../store/postgres.js';
import type { ResourceStore } from '../store/resource-store.js';
import { DEADLINE_RUNS, type DeadlineTimers } from './deadline-timers.js';
import type { FeedbackService } from './feedback-service.js';

/**
 * Fires the pick-up and contact deadlines kept in PostgreSQL. A due timer is locked while its
 * reminder is written and removed in the same transaction, so processes sweeping together never
 * take the same timer, and the reminder's identifier guard makes a repeat after a crash a no-op:
 * one reminder, never two, never none.
 */
export class DeadlineSweeper {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Db,
    private readonly timers: DeadlineTimers,
    private readonly store: ResourceStore,
    private readonly feedback: FeedbackService,
    private readonly log: FastifyBaseLogger,
    /** Deadlines that passed with the Task still waiting for what they promise. */
    private readonly missed: Counter<'team' | 'kind'>,
  ) {}

  /** Sends the reminders that are due now; returns how many timers fired. */
  async sweep(now = Date.now()): Promise<number> {
    const missed: Array<{ team: string; kind: string }> = [];
    const fired = await transaction(this.db, async (sql) => {
      const due = await this.timers.lockDue(sql, new Date(now));
      for (const timer of due) {
        const task = await this.store.read<Task>('Task', timer.taskId);
        if (task && DEADLINE_RUNS[timer.kind](task.resource)) {
          await this.feedback.writeFeedback(timer.taskId, timer.kind);
          missed.push({ team: timer.teamId, kind: timer.kind });
          this.log.info({ taskId: timer.taskId, team: timer.teamId, kind: timer.kind }, 'deadline passed');
        }
        await this.timers.remove(sql, timer);
      }
      return due.length;
    });
    // Counted once the timers are gone for good: a sweep rolled back would be counted again next time.
    for (const labels of missed) this.missed.inc(labels);
    return fired;
  }

  start(intervalMs: number): void {
    this.timer = setInterval(() => {
      this.sweep().catch((error: Error) => this.log.warn({ err: { type: error.name } }, 'deadline sweep failed; retrying'));
    }, intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
