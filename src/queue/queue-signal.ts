import type { Redis } from 'ioredis';
import { openRedis } from '../store/redis.js';

export interface QueueSignalOptions {
  redisUrl: string;
  /** The service's connection for commands; the subscriber gets a connection of its own. */
  publisher: Redis;
  channel: string;
}

/**
 * Wakes long-polling claimers when work becomes claimable, in every service process: a team id
 * published on one Redis channel. A missed message costs at most one poll interval.
 */
export class QueueSignal {
  private readonly subscriber: Redis;
  private readonly publisher: Redis;
  private readonly channel: string;
  private readonly waiters = new Map<string, Set<() => void>>();

  constructor({ redisUrl, publisher, channel }: QueueSignalOptions) {
    this.publisher = publisher;
    this.channel = channel;
    this.subscriber = openRedis(redisUrl, 'worker', { lazyConnect: true });
    this.subscriber.on('message', (_channel: string, teamId: string) => {
      for (const wake of this.waiters.get(teamId) ?? []) wake();
    });
  }

  async start(): Promise<void> {
    await this.subscriber.connect();
    await this.subscriber.subscribe(this.channel);
  }

  /** Wakes the claimers of a team in every process. */
  async publish(teamId: string): Promise<void> {
    await this.publisher.publish(this.channel, teamId);
  }

  /** Resolves when the team is signalled or after `ms`, whichever comes first. */
  wait(teamId: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const waiters = this.waiters.get(teamId) ?? new Set();
      this.waiters.set(teamId, waiters);
      const done = () => {
        clearTimeout(timer);
        waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      waiters.add(done);
    });
  }

  async close(): Promise<void> {
    for (const waiters of this.waiters.values()) for (const wake of waiters) wake();
    await this.subscriber.quit().catch(() => this.subscriber.disconnect());
  }
}
