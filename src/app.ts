import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import fp from 'fastify-plugin';
import auditPlugin from './audit/plugin.js';
import authPlugin from './auth/plugin.js';
import whoamiRoutes from './auth/whoami-routes.js';
import type { Config, Secrets } from './config.js';
import type { Directory } from './directory/directory.js';
import deliveryRoutes from './feedback/delivery/routes.js';
import communicationRoutes from './http/fhir/communication-routes.js';
import errorHandler from './http/error-handler.js';
import fhirProtocol from './http/fhir-protocol.js';
import conformanceRoutes from './http/fhir/conformance-routes.js';
import fhirRestRoutes from './http/fhir/routes.js';
import fhirWriteRoutes from './http/fhir/write-routes.js';
import fhirTransactionRoutes from './intake/fhir/routes.js';
import portalIntake from './intake/portal/plugin.js';
import hisCancelRoutes from './intake/his/cancel-routes.js';
import hisIntakeRoutes from './intake/his/routes.js';
import referralRefusals from './intake/plugin.js';
import docsRoutes from './ops/docs.js';
import requestMetrics from './ops/metrics.js';
import protectionPlugin from './ops/protection.js';
import opsRoutes from './ops/routes.js';
import queueRoutes from './queue/routes.js';
import reportRoutes from './reports/routes.js';
import { createServices, type Services } from './services.js';
import subscriptionRoutes from './subscriptions/routes.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The object graph, for tests; plugins get what they need from it as options, never from here. */
    services: Services;
  }
}

export interface AppOptions {
  config: Config;
  directory: Directory;
  secrets: Secrets;
}

/**
 * The whole service as a plugin: the services built by the composition root (`createServices`),
 * then the hooks every route needs, then the routes, each given its services as options. It never
 * listens; closing it stops the services.
 */
export async function app(instance: FastifyInstance, options: AppOptions) {
  const services = await createServices({ ...options, log: instance.log });
  instance.decorate('services', services);
  instance.addHook('onClose', () => services.close());

  await instance.register(errorHandler);
  await instance.register(fhirProtocol, services);
  await instance.register(requestMetrics, services);
  // Before any plugin that adds routes, so that the auth hooks see every route.
  await instance.register(authPlugin, services);
  await instance.register(referralRefusals, services);
  await instance.register(protectionPlugin, services);
  await instance.register(auditPlugin, services);

  await instance.register(opsRoutes, services);
  await instance.register(whoamiRoutes);
  await instance.register(docsRoutes, services);
  await instance.register(conformanceRoutes, services);
  await instance.register(fhirRestRoutes, services);
  await instance.register(fhirWriteRoutes, services);
  await instance.register(hisIntakeRoutes, services);
  await instance.register(fhirTransactionRoutes, services);
  await instance.register(portalIntake, services);
  await instance.register(hisCancelRoutes, services);
  await instance.register(reportRoutes, services);
  await instance.register(queueRoutes, services);
  await instance.register(deliveryRoutes, services);
  await instance.register(communicationRoutes, services);
  await instance.register(subscriptionRoutes, services);
}

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * Log lines carry method, path and status, never query strings or bodies: a search URL such as
 * Patient?identifier=...|<BSN> would otherwise put patient data in the log.
 */
export function serverOptions(config: Config, logStream?: NodeJS.WritableStream): FastifyServerOptions {
  return {
    logger: {
      level: config.LOG_LEVEL,
      ...(logStream ? { stream: logStream } : {}),
      serializers: {
        req: (request: { method: string; url: string; id: string }) => ({
          id: request.id,
          method: request.method,
          path: request.url.split('?')[0],
        }),
        res: (reply: { statusCode: number }) => ({ statusCode: reply.statusCode }),
      },
    },
    bodyLimit: config.BODY_LIMIT_BYTES,
    // Fastify's 10 s per plugin is too short on a loaded machine (the docs build, the first queue
    // connections): start-up failed there although nothing was wrong.
    pluginTimeout: 60_000,
    requestIdHeader: false,
    genReqId: (request) => {
      const incoming = request.headers['x-request-id'];
      return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    },
  };
}

/** Builds the Fastify instance with content types and request ids; `server.ts` and tests call this. */
export async function buildApp(options: AppOptions & { logStream?: NodeJS.WritableStream }): Promise<FastifyInstance> {
  const instance = Fastify(serverOptions(options.config, options.logStream));
  // JSON only (contract §2): anything else, text/plain included, answers 415.
  instance.removeContentTypeParser('text/plain');
  instance.addContentTypeParser('application/fhir+json', { parseAs: 'string' }, instance.getDefaultJsonParser('error', 'error'));
  instance.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  await instance.register(fp(app), options);
  return instance;
}
