import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Outbox } from './outbox.js';

declare module 'fastify' {
  interface FastifyInstance {
    outbox: Outbox;
  }
}

const SWEEP_INTERVAL_MS = 2_000;

/**
 * The outbox; the plugins that own a target register their handler, and the relay starts once
 * every plugin is loaded (first a pass over everything a crash left behind, then on NOTIFY and a sweep).
 */
export default fp(
  async function outbox(app: FastifyInstance) {
    const outbox = new Outbox(app.db, `wor_outbox_${app.config.DATABASE_SCHEMA}`, app.log);
    app.decorate('outbox', outbox);
    app.addHook('onReady', async () => {
      // Handlers are idempotent and run under a row lock, so racing another live process does no harm.
      while ((await outbox.relay(true)) > 0);
      await outbox.start(SWEEP_INTERVAL_MS);
    });
    app.addHook('onClose', async () => outbox.stop());
    app.metrics.gauge({
      name: 'wor_outbox_backlog',
      help: 'Follow-up messages committed but not yet handled',
      read: async () => [[{}, await outbox.backlog()]],
    });
  },
  { name: 'outbox', dependencies: ['database', 'metrics'] },
);
