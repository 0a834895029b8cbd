import type { FastifyBaseLogger } from 'fastify';
import type { Task } from 'fhir/r4.js';
import type { Redis } from 'ioredis';
import type { Team } from '../directory/directory.js';
import type { Keys } from '../store/keys.js';
import type { ResourceStore } from '../store/resource-store.js';
import { isFinished, QUEUED_STATUSES } from '../tasks/state-machine.js';
import type { FeedbackKind } from './feedback-letter.js';
import type { FeedbackService } from './feedback-service.js';

interface Deadline {
  kind: FeedbackKind;
  key: (teamId: string) => string;
  /** Is the Task still in the state the deadline warns about? */
  missed: (task: Task) => boolean;
}

/**
 * The pick-up and contact deadlines are timers kept in Redis (sorted sets scored by deadline), so
 * they survive restarts. A due timer is removed only after its reminder was written, and the
 * reminder's identifier guard makes a second write a no-op: one reminder, never two, never none.
 */
export class DeadlineSweeper {
  private timer: NodeJS.Timeout | undefined;
  private readonly deadlines: Deadline[];

  constructor(
    private readonly redis: Redis,
    keys: Keys,
    private readonly store: ResourceStore,
    private readonly feedback: FeedbackService,
    private readonly teams: Team[],
    private readonly log: FastifyBaseLogger,
  ) {
    this.deadlines = [
      { kind: 'pickup-deadline-missed', key: (team) => keys.pickupDeadlines(team), missed: (task) => QUEUED_STATUSES.includes(task.status) },
      { kind: 'contact-deadline-missed', key: (team) => keys.contactDeadlines(team), missed: (task) => !task.businessStatus && !isFinished(task.status) },
    ];
  }

  /** Sends the reminders that are due now; returns how many timers fired. */
  async sweep(now = Date.now()): Promise<number> {
    let fired = 0;
    for (const team of this.teams) {
      for (const deadline of this.deadlines) {
        const key = deadline.key(team.id);
        const due = await this.redis.zrangebyscore(key, '-inf', now, 'LIMIT', 0, 100);
        for (const taskId of due) {
          const task = await this.store.read<Task>('Task', taskId);
          if (task && deadline.missed(task.resource)) {
            await this.feedback.writeFeedback(taskId, deadline.kind);
            this.log.info({ taskId, team: team.id, kind: deadline.kind }, 'deadline passed');
          }
          await this.redis.zrem(key, taskId);
          fired += 1;
        }
      }
    }
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
