import type { FastifyInstance, FastifyRequest, RouteOptions } from 'fastify';
import fp from 'fastify-plugin';
import type { ResourceStore } from '../store/resource-store.js';
import type { Caller } from './caller.js';
import { checkAccess, undeclared } from './route-access.js';
import { TenantRepository } from './tenant-repository.js';
import type { TokenVerifier } from './token-verifier.js';

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller;
    /** The store as this caller may see it; absent on public routes. */
    repo: TenantRepository;
  }
}

/**
 * Every request must carry a valid bearer token unless its route is marked public; then the
 * route's declared roles and scopes are checked here, in one place, before any handler runs.
 * A route that declares neither stops the boot, and would be refused if it were ever reached.
 */
export default fp(
  async function auth(app: FastifyInstance, { tokens, store }: { tokens: TokenVerifier; store: ResourceStore }) {
    app.decorateRequest('caller', null as unknown as Caller);
    app.decorateRequest('repo', null as unknown as TenantRepository);
    app.addHook('onRequest', async (request: FastifyRequest) => {
      const route = request.routeOptions.config;
      if (route?.public) return;
      if (route?.signedLink && !request.headers.authorization && (request.query as Record<string, unknown>).signature !== undefined) return;
      request.caller = await tokens.verify(request.headers.authorization);
      request.repo = new TenantRepository(store, request.caller);
    });
    app.addHook('preHandler', async (request: FastifyRequest) => {
      // An unknown path has no route to declare anything; the not-found handler answers it.
      // A signed link carries no caller: the route checks the signature itself.
      if (request.routeOptions.config?.public || request.is404 || (request.routeOptions.config?.signedLink && !request.caller)) return;
      checkAccess(request.caller, request.routeOptions.config, request);
    });

    // Checked once everything is registered: plugins such as the docs mark their routes public in their own onRoute hook.
    const routes: RouteOptions[] = [];
    app.addHook('onRoute', (route) => {
      routes.push(route);
    });
    app.addHook('onReady', async () => {
      const missing = undeclared(routes);
      if (missing.length > 0) throw new Error(`routes that declare no callers (config: { roles, scope } or { public: true }): ${missing.join(', ')}`);
    });
  },
  { name: 'auth' },
);
