import { Redis, type RedisOptions } from 'ioredis';
import type { QueueOptions } from 'bullmq';

export class RedisPolicyError extends Error {}

/** What a connection is for; each use has one set of options, here and nowhere else. */
const REDIS_USES = {
  /**
   * Commands a request waits on (and queue producers): they fail fast while Redis is unreachable
   * (the request answers 503) instead of queueing in memory; the client keeps reconnecting.
   */
  request: { enableOfflineQueue: false, maxRetriesPerRequest: 1, retryStrategy: (attempt: number) => Math.min(attempt * 200, 2000) },
  /** BullMQ workers and subscribers: they wait for Redis to come back (BullMQ requires no retry limit). */
  worker: { maxRetriesPerRequest: null },
} satisfies Record<string, RedisOptions>;

/** The one place the service opens Redis connections. Reconnection is automatic; /readyz and the requests report an outage. */
export function openRedis(url: string, use: keyof typeof REDIS_USES, options: Pick<RedisOptions, 'lazyConnect'> = {}): Redis {
  const redis = new Redis(url, { ...REDIS_USES[use], ...options });
  redis.on('error', () => {});
  return redis;
}

export async function connectRedis(url: string): Promise<Redis> {
  const redis = openRedis(url, 'request', { lazyConnect: true });
  await redis.connect();
  return redis;
}

/** Queue keys must never be evicted: refuse to run against a Redis that would. */
export async function assertNoEviction(redis: Redis): Promise<void> {
  const info = await redis.info('memory');
  const policy = /maxmemory_policy:(\S+)/.exec(info)?.[1];
  if (policy !== 'noeviction') {
    throw new RedisPolicyError(
      `Redis maxmemory-policy is ${policy ?? 'unknown'}; wor-bridge needs noeviction, or queued referrals could be evicted (set maxmemory-policy noeviction)`,
    );
  }
}

/**
 * Options of every BullMQ queue: its connection and key prefix, and an events stream kept short.
 * Nothing here listens to BullMQ's events (PostgreSQL holds the history), and the default stream of
 * 10,000 events would cost Redis ~1 MB per queue for nothing.
 */
export function bullQueueOptions(connection: Redis, prefix: string): QueueOptions {
  return { connection, prefix, streams: { events: { maxLen: 100 } } };
}
