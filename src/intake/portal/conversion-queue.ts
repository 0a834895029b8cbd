import type { FastifyBaseLogger } from 'fastify';
import { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { bullQueueOptions, openRedis } from '../../store/redis.js';
import type { InboundService } from './inbound-service.js';
import { NotYet } from './inbound-service.js';

const QUEUE = 'inbound-conversion';

export interface ConversionQueueOptions {
  redisUrl: string;
  prefix: string;
  inbound: InboundService;
  log: FastifyBaseLogger;
  attempts: number;
  backoffMs: number;
}

/**
 * The background conversion of stored portal documents: one at a time per process, so that the
 * documents of one referral are converted in the order they came; a letter that arrives before its
 * referral is tried again with backoff, and fails with a reason if the referral never comes.
 */
export class ConversionQueue {
  private readonly connection: Redis;
  private readonly queue: Queue<{ messageId: string }>;
  private readonly worker: Worker<{ messageId: string }>;

  constructor(private readonly options: ConversionQueueOptions) {
    const { redisUrl, prefix, inbound, log } = options;
    this.connection = openRedis(redisUrl, 'worker');
    this.queue = new Queue(QUEUE, bullQueueOptions(this.connection, prefix));
    this.worker = new Worker(
      QUEUE,
      async (job) => {
        try {
          await inbound.convert(job.data.messageId);
        } catch (error) {
          if (error instanceof NotYet && job.attemptsMade + 1 >= options.attempts) {
            await inbound.giveUp(job.data.messageId, error.message);
            return;
          }
          throw error;
        }
      },
      // A conversion takes milliseconds: a short lock lets one that a crash interrupted run again soon.
      { connection: this.connection, prefix, concurrency: 1, autorun: false, lockDuration: 10_000, stalledInterval: 5_000, maxStalledCount: 10 },
    );
    this.worker.on('error', () => {});
    this.worker.on('failed', (job, error) => log.warn({ messageId: job?.data.messageId, attempt: job?.attemptsMade, failure: error.name }, 'conversion will be retried'));
  }

  async start(): Promise<void> {
    await this.queue.waitUntilReady();
    void this.worker.run();
  }

  async add(messageId: string, replay?: string): Promise<void> {
    await this.queue.add(
      'convert',
      { messageId },
      {
        jobId: replay ? `${messageId}-replay-${replay.replace(/[^0-9]/g, '')}` : messageId,
        attempts: this.options.attempts,
        backoff: { type: 'exponential', delay: this.options.backoffMs },
        removeOnComplete: { age: 7 * 86_400 },
        removeOnFail: { age: 30 * 86_400 },
      },
    );
  }

  async close(): Promise<void> {
    await this.worker.close();
    await this.queue.close();
    await this.connection.quit().catch(() => this.connection.disconnect());
  }
}
