import { mkdirSync, rmSync } from 'node:fs';
import { redisAnswers, startLocalRedis } from '../../src/store/local-redis.js';

/**
 * Tests use the Redis at TEST_REDIS_URL (default 127.0.0.1:6379); when none answers, a private
 * redis-server is started for the run. Each test service uses a key prefix of its own.
 */
export default async function globalSetup() {
  rmSync('test/.logs', { recursive: true, force: true });
  mkdirSync('test/.logs', { recursive: true });
  const url = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
  if (await redisAnswers(url)) {
    process.env.TEST_REDIS_URL = url;
    return;
  }
  const redis = await startLocalRedis({ dir: 'test/.logs/redis' });
  process.env.TEST_REDIS_URL = redis.url;
  (globalThis as { __testRedis?: typeof redis }).__testRedis = redis;
}
