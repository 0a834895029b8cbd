import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface Metrics {
  registry: Registry;
  /** A gauge read at scrape time from where its domain keeps the truth (PostgreSQL, the queues). */
  gauge<L extends string>(definition: { name: string; help: string; labelNames?: L[]; read: () => Promise<Array<[Partial<Record<L, string>>, number]>> }): void;
  referrals: Counter<'channel' | 'outcome'>;
  httpDuration: Histogram<'method' | 'route' | 'status'>;
}

/**
 * The route template, with the FHIR type filled in (`/fhir/Task`, not `/fhir/:type`) when the type
 * was served: a refused one stays `:type`, so requests for made-up types cannot multiply the series.
 */
function routeLabel(request: FastifyRequest, status: number): string {
  const route = request.routeOptions.url ?? 'unmatched';
  const type = (request.params as Record<string, string> | undefined)?.type;
  return route.startsWith('/fhir/:type') && type && status < 400 ? route.replace(':type', type) : route;
}

/** Prometheus metrics in a registry of this service's own (several services may share a process in tests). */
export function createMetrics(log: FastifyBaseLogger): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'wor_' });
  return {
    registry,
    gauge({ name, help, labelNames = [], read }) {
      new Gauge({
        name,
        help,
        labelNames,
        registers: [registry],
        async collect() {
          // A store that does not answer must not take /metrics down with it: the gauge is left out.
          const values = await read().catch((error: Error) => {
            log.warn({ err: { type: error.name }, metric: name }, 'metric not read');
            return undefined;
          });
          this.reset();
          for (const [labels, value] of values ?? []) this.set(labels, value);
        },
      });
    },
    referrals: new Counter({ name: 'wor_referrals_total', help: 'Referrals received, by channel and outcome', labelNames: ['channel', 'outcome'], registers: [registry] }),
    httpDuration: new Histogram({
      name: 'wor_http_request_duration_seconds',
      help: 'HTTP request duration by route template',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
  };
}

/** Times every request by its route template. */
export default fp(
  async function requestMetrics(app: FastifyInstance, { metrics }: { metrics: Metrics }) {
    app.addHook('onResponse', async (request, reply) => {
      metrics.httpDuration.observe(
        { method: request.method, route: routeLabel(request, reply.statusCode), status: String(reply.statusCode) },
        reply.elapsedTime / 1000,
      );
    });
  },
  { name: 'request-metrics' },
);
