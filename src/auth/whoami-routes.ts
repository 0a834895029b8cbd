import type { FastifyInstance } from 'fastify';
import { ANY_ROLE } from './route-access.js';

/**
 * `GET /auth/whoami`: what the service makes of the caller's token (role, organisation, scopes).
 * Lets an integrator check a token before the first real call; touches no data.
 */
export default async function whoamiRoutes(app: FastifyInstance) {
  app.get('/auth/whoami', { config: { roles: ANY_ROLE } }, async (request) => {
    const { role, org, clientId, grants } = request.caller;
    return {
      role,
      org,
      clientId,
      scopes: grants.map((grant) => `system/${grant.resourceType}.${[...grant.interactions].join('')}`),
    };
  });
}
