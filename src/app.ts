import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import fp from 'fastify-plugin';
import auditPlugin from './audit/plugin.js';
import authPlugin from './auth/plugin.js';
import whoamiRoutes from './auth/whoami-routes.js';
import type { Config, Secrets } from './config.js';
import type { Directory } from './directory/directory.js';
import directoryPlugin from './directory/plugin.js';
import deliveryPlugin from './feedback/delivery/plugin.js';
import feedbackPlugin from './feedback/plugin.js';
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
import intakePlugin from './intake/plugin.js';
import docsRoutes from './ops/docs.js';
import metricsPlugin from './ops/metrics.js';
import protectionPlugin from './ops/protection.js';
import opsRoutes from './ops/routes.js';
import outboxPlugin from './outbox/plugin.js';
import queuePlugin from './queue/plugin.js';
import queueRoutes from './queue/routes.js';
import reportRoutes from './reports/routes.js';
import retentionPlugin from './retention/plugin.js';
import tasksPlugin from './tasks/plugin.js';
import databasePlugin from './store/database-plugin.js';
import storePlugin from './store/plugin.js';
import subscriptionsPlugin from './subscriptions/plugin.js';
import subscriptionRoutes from './subscriptions/routes.js';

declare module 'fastify' {
  interface FastifyInstance {
    config: Config;
  }
}

export interface AppOptions {
  config: Config;
  directory: Directory;
  secrets: Secrets;
}

/** The whole service as a plugin: shared services first, then the routes. It never listens. */
export async function app(instance: FastifyInstance, options: AppOptions) {
  await instance.register(
    fp(
      async (root) => {
        root.decorate('config', options.config);
      },
      { name: 'config' },
    ),
  );
  await instance.register(errorHandler);
  await instance.register(fhirProtocol);
  await instance.register(metricsPlugin);
  await instance.register(databasePlugin);
  await instance.register(storePlugin);
  // Before any plugin that adds routes, so that the auth hooks see every route.
  await instance.register(authPlugin);
  await instance.register(directoryPlugin, { directory: options.directory });
  await instance.register(outboxPlugin);
  await instance.register(tasksPlugin);
  await instance.register(deliveryPlugin, { secrets: options.secrets });
  await instance.register(subscriptionsPlugin);
  await instance.register(feedbackPlugin);
  await instance.register(queuePlugin);
  await instance.register(intakePlugin);
  await instance.register(protectionPlugin);
  await instance.register(auditPlugin);

  await instance.register(opsRoutes);
  await instance.register(whoamiRoutes);
  await instance.register(docsRoutes);
  await instance.register(conformanceRoutes);
  await instance.register(fhirRestRoutes);
  await instance.register(fhirWriteRoutes);
  await instance.register(hisIntakeRoutes);
  await instance.register(fhirTransactionRoutes);
  await instance.register(portalIntake, { secrets: options.secrets });
  await instance.register(retentionPlugin);
  await instance.register(hisCancelRoutes);
  await instance.register(reportRoutes);
  await instance.register(queueRoutes);
  await instance.register(communicationRoutes);
  await instance.register(subscriptionRoutes);
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
