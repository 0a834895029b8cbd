import type { FastifyInstance } from 'fastify';
import { FHIR_JSON } from '../fhir/media-type.js';
import { operationOutcome } from '../fhir/operation-outcome.js';

/** Liveness, readiness (PostgreSQL and Redis reachable) and Prometheus metrics (operators only). */
export default async function opsRoutes(app: FastifyInstance) {
  app.get('/healthz', { config: { public: true } }, async () => ({ status: 'ok' }));

  app.get('/readyz', { config: { public: true } }, async (_request, reply) => {
    const [postgres, redis] = await Promise.all([
      app.db.query('SELECT 1').then(() => true, () => false),
      app.redis.ping().then(() => true, () => false),
    ]);
    if (postgres && redis) return { status: 'ready' };
    const away = [...(postgres ? [] : ['PostgreSQL']), ...(redis ? [] : ['Redis'])].join(' and ');
    return reply
      .code(503)
      .header('retry-after', '5')
      .type(FHIR_JSON)
      .send(operationOutcome([{ code: 'transient', diagnostics: `${away} not reachable` }]));
  });

  app.get('/metrics', { config: { roles: ['operator'] } }, async (_request, reply) => {
    return reply.type(app.metrics.registry.contentType).send(await app.metrics.registry.metrics());
  });
}
