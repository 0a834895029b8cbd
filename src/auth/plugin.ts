import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Caller } from './caller.js';
import { TokenVerifier } from './token-verifier.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Routes reachable without a token (health, metadata, docs). */
    public?: boolean;
    /** Routes that take a signed link (`signature` in the query) instead of a token; the route checks it. */
    signedLink?: boolean;
  }
  interface FastifyRequest {
    caller: Caller;
  }
}

/** Every request must carry a valid bearer token unless its route is marked public. */
export default fp(
  async function auth(app: FastifyInstance) {
    const { config } = app;
    const verifier = new TokenVerifier({
      jwksFile: config.AUTH_JWKS_FILE,
      jwksUrl: config.AUTH_JWKS_URL,
      issuer: config.AUTH_ISSUER,
      audience: config.AUTH_AUDIENCE,
    });
    app.decorateRequest('caller', null as unknown as Caller);
    app.addHook('onRequest', async (request: FastifyRequest) => {
      const route = request.routeOptions.config;
      if (route?.public) return;
      if (route?.signedLink && !request.headers.authorization && (request.query as Record<string, unknown>).signature !== undefined) return;
      request.caller = await verifier.verify(request.headers.authorization);
    });
  },
  { name: 'auth', dependencies: ['config'] },
);
