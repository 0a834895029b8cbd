import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Redis } from 'ioredis';
import { assertNoEviction, connectRedis } from './redis.js';
import { RedisKeys } from './redis-keys.js';
import { RedisRecovery } from './redis-recovery.js';
import { ResourceStore } from './resource-store.js';

declare module 'fastify' {
  interface FastifyInstance {
    redis: Redis;
    redisKeys: RedisKeys;
    redisRecovery: RedisRecovery;
    store: ResourceStore;
  }
}

const RECOVERY_CHECK_MS = 2_000;

/** The FHIR resource store on PostgreSQL, and the service's Redis connection for what can be rebuilt. */
export default fp(
  async function store(app: FastifyInstance) {
    const resourceStore = new ResourceStore(app.db, app.config.WOR_SECRET);
    const reindexed = await resourceStore.reindexIfOutdated();
    if (reindexed > 0) app.log.info({ reindexed }, 'search index rebuilt for a new search index definition');
    const redis = await connectRedis(app.config.REDIS_URL);
    try {
      await assertNoEviction(redis);
    } catch (error) {
      redis.disconnect();
      throw error;
    }
    const { host, port } = redis.options;
    app.log.info({ redis: { host, port, prefix: app.config.REDIS_KEY_PREFIX } }, 'using Redis');
    app.decorate('redis', redis);
    const keys = new RedisKeys(app.config.REDIS_KEY_PREFIX);
    const recovery = new RedisRecovery(redis, keys.epoch, app.log);
    app.decorate('redisKeys', keys);
    app.decorate('redisRecovery', recovery);
    app.decorate('store', resourceStore);
    // Once every owner has registered its rebuild: at start-up (Redis may be new), then every few seconds.
    app.addHook('onReady', async () => {
      await recovery.check();
      recovery.start(RECOVERY_CHECK_MS);
    });
    app.addHook('onClose', async () => {
      await recovery.stop();
      await redis.quit().catch(() => redis.disconnect());
    });
  },
  { name: 'store', dependencies: ['config', 'database'] },
);
