import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

export interface Metrics {
  registry: Registry;
  referrals: Counter<'channel' | 'outcome'>;
  httpDuration: Histogram<'method' | 'route' | 'status'>;
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Metrics;
  }
}

/** Prometheus metrics in a registry of this app's own (several apps may share a process in tests). */
export default fp(
  async function metrics(app: FastifyInstance) {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry, prefix: 'wor_' });
    const metrics: Metrics = {
      registry,
      referrals: new Counter({ name: 'wor_referrals_total', help: 'Referrals received, by channel and outcome', labelNames: ['channel', 'outcome'], registers: [registry] }),
      httpDuration: new Histogram({
        name: 'wor_http_request_duration_seconds',
        help: 'HTTP request duration by route template',
        labelNames: ['method', 'route', 'status'],
        buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
        registers: [registry],
      }),
    };
    app.decorate('metrics', metrics);
    app.addHook('onResponse', async (request, reply) => {
      metrics.httpDuration.observe(
        { method: request.method, route: request.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) },
        reply.elapsedTime / 1000,
      );
    });
  },
  { name: 'metrics' },
);
