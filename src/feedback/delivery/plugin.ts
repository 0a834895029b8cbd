import type { Secrets } from '../../config.js';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { DeliveryQueue } from './delivery-queue.js';

declare module 'fastify' {
  interface FastifyInstance {
    deliveries: DeliveryQueue;
  }
}

/** Delivery of feedback to GP FHIR endpoints, and the operator's view of parked deliveries. */
export default fp(
  async function deliveries(app: FastifyInstance, { secrets }: { secrets: Secrets }) {
    const { config } = app;
    const queue = new DeliveryQueue({
      redisUrl: config.REDIS_URL,
      prefix: app.redisKeys.bull,
      directory: app.directory,
      store: app.store,
      db: app.db,
      log: app.log,
      registry: app.metrics.registry,
      attempts: config.DELIVERY_ATTEMPTS,
      backoffMs: config.DELIVERY_BACKOFF_MS,
      timeoutMs: config.DELIVERY_TIMEOUT_MS,
      secrets,
      publicBaseUrl: config.PUBLIC_BASE_URL,
    });
    await queue.start();
    app.decorate('deliveries', queue);
    app.metrics.gauge({
      name: 'wor_feedback_deliveries_parked',
      help: 'Deliveries parked as failed, waiting for an operator',
      read: async () => [[{}, await queue.parkedCount()]],
    });
    app.outbox.handle('delivery', (entry) => queue.add(entry));
    app.redisRecovery.register('feedback deliveries', () => queue.rebuild());
    app.addHook('onClose', async () => queue.close());

    app.get('/operator/deliveries', { config: { roles: ['operator'] } }, async () => {
      return { parked: await queue.parked() };
    });

    app.post<{ Params: { communicationId: string } }>('/operator/deliveries/:communicationId/redeliver', { config: { roles: ['operator'] } }, async (request, reply) => {
      await queue.redeliver(request.params.communicationId);
      return reply.code(202).send({ communicationId: request.params.communicationId, status: 'queued' });
    });
  },
  { name: 'deliveries', dependencies: ['database', 'store', 'directory', 'metrics', 'outbox'] },
);
