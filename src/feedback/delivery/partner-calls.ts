import { Queue, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { bullQueueOptions, openRedis } from '../../store/redis.js';

/**
 * Backoff between attempts of a delivery: exponential, capped, with jitter — half the delay fixed,
 * half random, so that retries of many deliveries to one recovering receiver spread out.
 */
function cappedJitterBackoff(backoffMs: number, maxBackoffMs: number) {
  return (attemptsMade: number): number => {
    const delay = Math.min(maxBackoffMs, backoffMs * 2 ** (attemptsMade - 1));
    return Math.round(delay / 2 + Math.random() * (delay / 2));
  };
}

/** How calls to a partner's endpoint are tried: how often, how far apart at first, how long each may take. */
export interface PartnerCallPolicy {
  attempts: number;
  backoffMs: number;
  timeoutMs: number;
}

/** The longest wait between two attempts of a call to a partner. */
const MAX_BACKOFF_MS = 5 * 60_000;

/**
 * The BullMQ queue and worker of calls to partners' endpoints (feedback deliveries, subscription
 * notifications): adding fails fast while Redis is away, so the caller hears of it, while the
 * worker waits for Redis to come back; eight calls at a time, retries backing off with jitter.
 */
export class PartnerCallQueue<T> {
  readonly queue: Queue<T>;
  private readonly worker: Worker<T>;
  private readonly producer: Redis;
  private readonly consumer: Redis;

  constructor(name: string, { redisUrl, prefix, backoffMs }: { redisUrl: string; prefix: string; backoffMs: number }, call: (job: Job<T>) => Promise<void>) {
    this.producer = openRedis(redisUrl, 'request');
    this.consumer = openRedis(redisUrl, 'worker');
    this.queue = new Queue<T>(name, bullQueueOptions(this.producer, prefix));
    this.worker = new Worker<T>(name, call, {
      connection: this.consumer,
      prefix,
      concurrency: 8,
      autorun: false,
      settings: { backoffStrategy: cappedJitterBackoff(backoffMs, MAX_BACKOFF_MS) },
    });
    this.worker.on('error', () => {});
  }

  /** Starts calling; `stopped` hears of a worker that ends for good. */
  async start(stopped: (error: Error) => void): Promise<void> {
    await this.queue.waitUntilReady();
    this.worker.run().catch(stopped);
  }

  async close(): Promise<void> {
    await this.worker.close();
    await this.queue.close();
    for (const connection of [this.producer, this.consumer]) await connection.quit().catch(() => connection.disconnect());
  }
}
