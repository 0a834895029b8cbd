import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type { Team } from '../directory/directory.js';

/** What a team queue holds per Task: ids only, never patient data. */
export interface QueueEntry {
  taskId: string;
  teamId: string;
  urgent: boolean;
}

/** BullMQ priorities: lower runs first; within a priority, oldest first. */
const PRIORITY = { urgent: 1, routine: 2 } as const;

/**
 * One BullMQ queue per sociaal wijkteam, holding one job per Task (job id = Task id, so adding the
 * same Task twice is a no-op).
 */
export class TeamQueues {
  private readonly queues = new Map<string, Queue>();
  private readonly connection: Redis;

  constructor(
    redisUrl: string,
    readonly prefix: string,
    teams: Team[],
  ) {
    // Fail fast while Redis is away: the request answers 503 instead of hanging (BullMQ's advice for producers).
    this.connection = new Redis(redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    this.connection.on('error', () => {});
    for (const team of teams) this.queues.set(team.id, new Queue(`team-${team.id}`, { connection: this.connection, prefix }));
  }

  async waitUntilReady(): Promise<void> {
    await Promise.all([...this.queues.values()].map((queue) => queue.waitUntilReady()));
  }

  queue(teamId: string): Queue | undefined {
    return this.queues.get(teamId);
  }

  async add(entry: QueueEntry): Promise<void> {
    const queue = this.queues.get(entry.teamId);
    if (!queue) throw new Error(`no queue for team ${entry.teamId}`);
    await queue.add(
      'task',
      { taskId: entry.taskId },
      { jobId: entry.taskId, priority: entry.urgent ? PRIORITY.urgent : PRIORITY.routine, removeOnComplete: { age: 7 * 86_400 }, removeOnFail: false },
    );
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((queue) => queue.close()));
    await this.connection.quit().catch(() => this.connection.disconnect());
  }
}
