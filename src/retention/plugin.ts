import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Retention } from './retention.js';

declare module 'fastify' {
  interface FastifyInstance {
    retention: Retention;
  }
}

const HOUR_MS = 3_600_000;

/** Hourly, erases referrals that ended more than REFERRAL_RETENTION_DAYS ago. */
export default fp(
  async function retention(app: FastifyInstance) {
    const retention = new Retention(app.store, app.deadlineTimers, app.leases, app.inbound, app.log);
    app.decorate('retention', retention);
    const sweep = async () => {
      const cutoff = new Date(Date.now() - app.config.REFERRAL_RETENTION_DAYS * 86_400_000);
      while ((await retention.sweep(cutoff)) > 0);
    };
    const timer = setInterval(() => void sweep().catch((error: Error) => app.log.warn({ err: { type: error.name } }, 'retention sweep failed')), HOUR_MS);
    timer.unref();
    app.addHook('onClose', async () => clearInterval(timer));
  },
  { name: 'retention', dependencies: ['store', 'queues', 'inbound'] },
);
