import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Redis } from 'ioredis';
import { Keys } from './keys.js';
import { assertNoEviction, connectRedis } from './redis.js';
import { ResourceStore } from './resource-store.js';

declare module 'fastify' {
  interface FastifyInstance {
    redis: Redis;
    store: ResourceStore;
  }
}

export default fp(
  async function store(app: FastifyInstance) {
    const redis = await connectRedis(app.config.REDIS_URL);
    try {
      await assertNoEviction(redis);
    } catch (error) {
      redis.disconnect();
      throw error;
    }
    app.decorate('redis', redis);
    app.decorate('store', new ResourceStore(redis, new Keys(app.config.REDIS_KEY_PREFIX)));
    app.addHook('onClose', async () => {
      await redis.quit().catch(() => redis.disconnect());
    });
  },
  { name: 'store', dependencies: ['config'] },
);
