import type { FastifyBaseLogger } from 'fastify';
import { Counter, type Registry } from 'prom-client';
import type { Task } from 'fhir/r4.js';
import { transaction, type Db } from '../store/postgres.js';
import type { ResourceStore } from '../store/resource-store.js';
import { DEADLINE_RUNS, type DeadlineTimers } from './deadline-timers.js';
import type { FeedbackService } from './feedback-service.js';

export interface DeadlineSweeperOptions {
  db: Db;
  timers: DeadlineTimers;
  store: ResourceStore;
  feedback: FeedbackService;
  log: FastifyBaseLogger;
  registry: Registry;
}

/**
 * Fires the pick-up and contact deadlines kept in PostgreSQL. A due timer is locked while its
 * reminder is written and removed in the same transaction, so processes sweeping together never
 * take the same timer, and the reminder's identifier guard makes a repeat after a crash a no-op:
 * one reminder, never two, never none.
 */
export class DeadlineSweeper {
  private timer: NodeJS.Timeout | undefined;
  /** Deadlines that passed with the Task still waiting for what they promise. */
  private readonly missed: Counter<'team' | 'kind'>;

  constructor(private readonly options: DeadlineSweeperOptions) {
    this.missed = new Counter({
      name: 'wor_deadlines_missed_total',
      help: 'Pick-up and contact deadlines that passed with the Task still waiting (each sends the GP a reminder)',
      labelNames: ['team', 'kind'],
      registers: [options.registry],
    });
  }

  /** Sends the reminders that are due now; returns how many timers fired. */
  async sweep(now = Date.now()): Promise<number> {
    const missed: Array<{ team: string; kind: string }> = [];
    const fired = await transaction(this.options.db, async (sql) => {
      const due = await this.options.timers.lockDue(sql, new Date(now));
      for (const timer of due) {
        const task = await this.options.store.read<Task>('Task', timer.taskId);
        if (task && DEADLINE_RUNS[timer.kind](task.resource)) {
          await this.options.feedback.writeFeedback(timer.taskId, timer.kind);
          missed.push({ team: timer.teamId, kind: timer.kind });
          this.options.log.info({ taskId: timer.taskId, team: timer.teamId, kind: timer.kind }, 'deadline passed');
        }
        await this.options.timers.remove(sql, timer);
      }
      return due.length;
    });
    // Counted once the timers are gone for good: a sweep rolled back would be counted again next time.
    for (const labels of missed) this.missed.inc(labels);
    return fired;
  }

  start(intervalMs: number): void {
    this.timer = setInterval(() => {
      this.sweep().catch((error: Error) => this.options.log.warn({ err: { type: error.name } }, 'deadline sweep failed; retrying'));
    }, intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
