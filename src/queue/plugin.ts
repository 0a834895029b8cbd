import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { relayOutbox } from './outbox.js';
import { TeamQueues } from './team-queues.js';

declare module 'fastify' {
  interface FastifyInstance {
    queues: TeamQueues;
  }
}

/** Outbox entries younger than this belong to requests still in flight. */
const OUTBOX_GRACE_MS = 10_000;
const OUTBOX_INTERVAL_MS = 5_000;

export default fp(
  async function queues(app: FastifyInstance) {
    const queues = new TeamQueues(app.config.REDIS_URL, `${app.config.REDIS_KEY_PREFIX}:bull`, app.directory.teams);
    await queues.waitUntilReady();
    app.decorate('queues', queues);

    const relay = () => relayOutbox(app.redis, app.store.keys, app.store, queues, app.log, OUTBOX_GRACE_MS);
    await relay();
    const timer = setInterval(() => {
      relay().catch((error: Error) => app.log.warn({ err: { type: error.name } }, 'outbox relay failed; retrying'));
    }, OUTBOX_INTERVAL_MS);
    timer.unref();

    app.addHook('onClose', async () => {
      clearInterval(timer);
      await queues.close();
    });
  },
  { name: 'queues', dependencies: ['store', 'directory'] },
);
