import { Queue, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { bullQueueOptions, openRedis } from '../store/redis.js';
import type { Team } from '../directory/directory.js';

/** What a team queue holds per Task: ids only, never patient data. */
export interface QueueEntry {
  taskId: string;
  teamId: string;
  urgent: boolean;
}

export interface JobData {
  taskId: string;
}

export interface TeamQueuesOptions {
  redisUrl: string;
  prefix: string;
  teams: Team[];
  leaseMs: number;
  onLeaseExpired: (teamId: string, taskId: string) => void;
}

/** BullMQ priorities: lower runs first; within a priority, oldest first. */
const PRIORITY = { urgent: 1, routine: 2 } as const;

/**
 * One BullMQ queue per sociaal wijkteam, holding one job per Task (job id = Task id, so adding the
 * same Task twice is a no-op). Coach systems take jobs through a manually driven Worker: the lock
 * token of a job is the lease id, and BullMQ's stalled-job check returns a job whose lease ran out.
 */
export class TeamQueues {
  private readonly queues = new Map<string, Queue<JobData>>();
  private readonly workers = new Map<string, Worker<JobData>>();
  private readonly producer: Redis;
  private readonly consumer: Redis;
  readonly leaseMs: number;

  constructor({ redisUrl, prefix, teams, leaseMs, onLeaseExpired }: TeamQueuesOptions) {
    this.leaseMs = leaseMs;
    // Producers fail fast while Redis is away (the request answers 503); workers wait for it.
    this.producer = openRedis(redisUrl, 'request');
    this.consumer = openRedis(redisUrl, 'worker');
    const stalledInterval = Math.min(5000, Math.max(250, Math.floor(leaseMs / 4)));
    for (const team of teams) {
      const name = `team-${team.id}`;
      this.queues.set(team.id, new Queue<JobData>(name, bullQueueOptions(this.producer, prefix)));
      const worker = new Worker<JobData>(name, null, {
        connection: this.consumer,
        prefix,
        autorun: false,
        lockDuration: leaseMs,
        stalledInterval,
        // An expired lease is not a failure of the Task: it goes back to the queue, however often.
        maxStalledCount: Number.MAX_SAFE_INTEGER,
      });
      worker.on('stalled', (jobId) => onLeaseExpired(team.id, jobId));
      worker.on('error', () => {});
      this.workers.set(team.id, worker);
    }
  }

  async start(): Promise<void> {
    await Promise.all([...this.queues.values()].map((queue) => queue.waitUntilReady()));
    await Promise.all([...this.workers.values()].map((worker) => worker.startStalledCheckTimer()));
  }

  has(teamId: string): boolean {
    return this.queues.has(teamId);
  }

  /** The teams that have a queue. */
  teams(): string[] {
    return [...this.queues.keys()];
  }

  /**
   * A job lives only while its Task is queued or leased: once it leaves (ack, cancellation) nothing
   * of it stays in Redis. A Task handed on again afterwards is not queued twice, because the outbox
   * relay and the rebuild add only Tasks that are still waiting for their team.
   */
  async add(entry: QueueEntry): Promise<void> {
    await this.queue(entry.teamId).add(
      'task',
      { taskId: entry.taskId },
      { jobId: entry.taskId, priority: entry.urgent ? PRIORITY.urgent : PRIORITY.routine, removeOnComplete: true, removeOnFail: true },
    );
  }

  /** Takes the next job (urgent first, then oldest) and locks it with the lease id for the lease time. */
  async take(teamId: string, leaseId: string): Promise<Job<JobData> | undefined> {
    return this.worker(teamId).getNextJob(leaseId, { block: false });
  }

  async job(teamId: string, taskId: string): Promise<Job<JobData> | undefined> {
    return (await this.queue(teamId).getJob(taskId)) ?? undefined;
  }

  async counts(teamId: string): Promise<{ waiting: number; leased: number }> {
    const counts = await this.queue(teamId).getJobCounts('waiting', 'prioritized', 'active');
    return { waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0), leased: counts.active ?? 0 };
  }

  private queue(teamId: string): Queue<JobData> {
    const queue = this.queues.get(teamId);
    if (!queue) throw new Error(`no queue for team ${teamId}`);
    return queue;
  }

  private worker(teamId: string): Worker<JobData> {
    const worker = this.workers.get(teamId);
    if (!worker) throw new Error(`no queue for team ${teamId}`);
    return worker;
  }

  async close(): Promise<void> {
    await Promise.all([...this.workers.values()].map((worker) => worker.close(true)));
    await Promise.all([...this.queues.values()].map((queue) => queue.close()));
    for (const connection of [this.producer, this.consumer]) await connection.quit().catch(() => connection.disconnect());
  }
}
