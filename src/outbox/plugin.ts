import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Outbox } from './outbox.js';

declare module 'fastify' {
  interface FastifyInstance {
    outbox: Outbox;
  }
}

/** Outbox messages younger than this belong to requests still in flight. */
const GRACE_MS = 10_000;
const INTERVAL_MS = 5_000;

/**
 * The outbox; the plugins that own a target register their handler, and the relay starts once
 * every plugin is loaded (first pass at start-up, then periodically).
 */
export default fp(
  async function outbox(app: FastifyInstance) {
    const outbox = new Outbox(app.redis, app.store.keys, app.log);
    app.decorate('outbox', outbox);
    app.addHook('onReady', async () => {
      // At start-up nothing of this process is in flight: finish everything a crash left behind.
      // (Handlers are idempotent, so racing another live process does no harm.)
      while ((await outbox.relay(0)) > 0);
      outbox.start(INTERVAL_MS, GRACE_MS);
    });
    app.addHook('onClose', async () => outbox.stop());
  },
  { name: 'outbox', dependencies: ['store'] },
);
