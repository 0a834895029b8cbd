import { mkdirSync, rmSync } from 'node:fs';
import { redisAnswers, startLocalRedis } from '../../src/store/local-redis.js';
import { ensureDatabase, postgresAnswers, startLocalPostgres, withDatabase } from '../../src/store/local-postgres.js';
import { freePort } from '../../src/store/local-server.js';

/**
 * Tests use the Redis at TEST_REDIS_URL (default 127.0.0.1:6379) and the PostgreSQL at
 * TEST_DATABASE_URL (default 127.0.0.1:5432, database `test`); when none answers, a private server is
 * started for the run. Each test service uses a Redis key prefix and a PostgreSQL schema of its own.
 */
export default async function globalSetup() {
  rmSync('test/.logs', { recursive: true, force: true });
  mkdirSync('test/.logs', { recursive: true });
  await setupPostgres();
  await setupRedis();
}

async function setupPostgres() {
  const url = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  if (await postgresAnswers(url)) {
    await ensureDatabase(url);
    process.env.TEST_DATABASE_URL = url;
    return;
  }
  const postgres = await startLocalPostgres({ dir: `${process.cwd()}/test/.logs/postgres`, port: await freePort() });
  process.env.TEST_DATABASE_URL = withDatabase(postgres.url, 'test');
  await ensureDatabase(process.env.TEST_DATABASE_URL);
  (globalThis as { __testPostgres?: typeof postgres }).__testPostgres = postgres;
}

async function setupRedis() {
  const url = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
  if (await redisAnswers(url)) {
    process.env.TEST_REDIS_URL = url;
    return;
  }
  const redis = await startLocalRedis({ dir: 'test/.logs/redis' });
  process.env.TEST_REDIS_URL = redis.url;
  (globalThis as { __testRedis?: typeof redis }).__testRedis = redis;
}
