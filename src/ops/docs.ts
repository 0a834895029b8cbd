import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';

const OPENAPI_PATH = fileURLToPath(new URL('../../openapi.yaml', import.meta.url));

/** The hand-written OpenAPI description (openapi.yaml) and Swagger UI over it at /docs; both public. */
export default async function docsRoutes(app: FastifyInstance) {
  app.addHook('onRoute', (route) => {
    route.config = { ...route.config, public: true };
  });
  const document = readFileSync(OPENAPI_PATH, 'utf8');
  app.get('/openapi.yaml', async (_request, reply) => reply.type('application/yaml; charset=utf-8').send(document));
  await app.register(swagger, { mode: 'static', specification: { path: OPENAPI_PATH, baseDir: fileURLToPath(new URL('../../', import.meta.url)) } });
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list' } });
}
