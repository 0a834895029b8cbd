import type { FastifyInstance } from 'fastify';
import { requireRole } from '../auth/caller.js';
import { FHIR_JSON } from '../fhir/media-type.js';
import { operationOutcome } from '../fhir/operation-outcome.js';

/** Liveness, readiness (Redis reachable) and Prometheus metrics (operators only). */
export default async function opsRoutes(app: FastifyInstance) {
  app.get('/healthz', { config: { public: true } }, async () => ({ status: 'ok' }));

  app.get('/readyz', { config: { public: true } }, async (_request, reply) => {
    try {
      await app.redis.ping();
      return { status: 'ready' };
    } catch {
      return reply
        .code(503)
        .type(FHIR_JSON)
        .send(operationOutcome([{ code: 'transient', diagnostics: 'Redis is not reachable' }]));
    }
  });

  app.get('/metrics', async (request, reply) => {
    requireRole(request.caller, 'operator');
    return reply.type(app.metrics.registry.contentType).send(await app.metrics.registry.metrics());
  });
}
