import { Redis, type RedisOptions } from 'ioredis';

export class RedisPolicyError extends Error {}

/**
 * Options for the service's own connection: commands fail fast while Redis is unreachable (the
 * request answers 503) instead of queueing in memory, and the client keeps reconnecting.
 */
export function serviceRedisOptions(): RedisOptions {
  return {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
    lazyConnect: true,
  };
}

export async function connectRedis(url: string): Promise<Redis> {
  const redis = new Redis(url, serviceRedisOptions());
  redis.on('error', () => {
    // Reconnection is automatic; /readyz and the requests themselves report the outage.
  });
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
