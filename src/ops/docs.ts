import { readFileSync } from 'node:fs';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config.js';
import { packageFile } from '../package-files.js';

const OPENAPI_PATH = packageFile('openapi.yaml');

/** The hand-written OpenAPI description (openapi.yaml) and Swagger UI over it at /docs, calling PUBLIC_BASE_URL; both public. */
export default async function docsRoutes(app: FastifyInstance, { config }: { config: Config }) {
  app.addHook('onRoute', (route) => {
    route.config = { ...route.config, public: true };
  });
  const document = readFileSync(OPENAPI_PATH, 'utf8');
  app.get('/openapi.yaml', async (_request, reply) => reply.type('application/yaml; charset=utf-8').send(document));
  // Swagger UI sends its "try it out" requests to the first server: this deployment's own origin.
  await app.register(swagger, {
    mode: 'static',
    specification: {
      path: OPENAPI_PATH,
      baseDir: packageFile('.'),
      postProcessor: (specification) => ({ ...specification, servers: [{ url: config.PUBLIC_BASE_URL, description: 'this deployment' }] }),
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list' } });
}
