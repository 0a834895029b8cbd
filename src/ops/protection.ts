import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Redis } from 'ioredis';
import type { Config } from '../config.js';

/**
 * API hardening: security headers for an API (no HTML but /docs), and a request budget per client
 * (per token client, or per address before authentication), counted in Redis so that every
 * service process shares it.
 */
export default fp(
  async function protection(app: FastifyInstance, { config, redis }: { config: Config; redis: Redis }) {
    await app.register(helmet, {
      // Swagger UI at /docs needs its inline scripts; everything else is JSON and gets the strict default.
      contentSecurityPolicy: false,
      crossOriginResourcePolicy: { policy: 'same-origin' },
    });
    app.addHook('onSend', async (request, reply) => {
      // A route that serves HTML of its own (the report page) sets its own, equally strict policy.
      if (!request.url.startsWith('/docs') && !reply.hasHeader('content-security-policy')) reply.header('content-security-policy', "default-src 'none'; frame-ancestors 'none'");
      reply.header('cache-control', reply.getHeader('cache-control') ?? 'no-store');
    });
    await app.register(rateLimit, {
      hook: 'preHandler',
      max: config.RATE_LIMIT_PER_MINUTE,
      timeWindow: 60_000,
      redis,
      nameSpace: `${config.REDIS_KEY_PREFIX}:ratelimit:`,
      skipOnError: true,
      keyGenerator: (request) => (request.caller ? `client:${request.caller.clientId}` : `ip:${request.ip}`),
      errorResponseBuilder: (_request, context) => ({ statusCode: 429, message: `rate limit of ${context.max} requests per minute exceeded` }),
    });
  },
  { name: 'protection', dependencies: ['auth'] },
);
