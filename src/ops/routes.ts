import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { FHIR_JSON } from '../fhir/media-type.js';
import { operationOutcome } from '../fhir/operation-outcome.js';
import type { Db } from '../store/postgres.js';
import type { Metrics } from './metrics.js';

/** Liveness, readiness (PostgreSQL and Redis reachable) and Prometheus metrics (operators only). */
export default async function opsRoutes(app: FastifyInstance, { db, redis, metrics }: { db: Db; redis: Redis; metrics: Metrics }) {
  app.get('/healthz', { config: { public: true } }, async () => ({ status: 'ok' }));

  app.get('/readyz', { config: { public: true } }, async (_request, reply) => {
    const [postgresUp, redisUp] = await Promise.all([
      db.query('SELECT 1').then(() => true, () => false),
      redis.ping().then(() => true, () => false),
    ]);
    if (postgresUp && redisUp) return { status: 'ready' };
    const away = [...(postgresUp ? [] : ['PostgreSQL']), ...(redisUp ? [] : ['Redis'])].join(' and ');
    return reply
      .code(503)
      .header('retry-after', '5')
      .type(FHIR_JSON)
      .send(operationOutcome([{ code: 'transient', diagnostics: `${away} not reachable` }]));
  });

  app.get('/metrics', { config: { roles: ['operator'] } }, async (_request, reply) => {
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
}
