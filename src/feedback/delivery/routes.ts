import type { FastifyInstance } from 'fastify';
import type { DeliveryQueue } from './delivery-queue.js';

/** The operator's view of parked deliveries, and delivering one again. */
export default async function deliveryRoutes(app: FastifyInstance, { deliveries }: { deliveries: DeliveryQueue }) {
  app.get('/operator/deliveries', { config: { roles: ['operator'] } }, async () => {
    return { parked: await deliveries.parked() };
  });

  app.post<{ Params: { communicationId: string } }>('/operator/deliveries/:communicationId/redeliver', { config: { roles: ['operator'] } }, async (request, reply) => {
    await deliveries.redeliver(request.params.communicationId);
    return reply.code(202).send({ communicationId: request.params.communicationId, status: 'queued' });
  });
}
