import type { FastifyContextConfig, FastifyRequest, RouteOptions } from 'fastify';
import { forbidden } from '../fhir/operation-outcome.js';
import { requireRole, requireScope, ROLES, type Caller, type Role } from './caller.js';
import type { Interaction } from './scopes.js';

/** `Task.u`: the scope a route needs, as the resource type and the SMART interaction. */
export type Scope = `${string}.${Interaction}`;

/** The scopes a route needs; a function may read the request (`/fhir/:type`) and may throw (an unknown type answers 404). */
export type ScopeDeclaration = Scope | readonly Scope[] | ((request: FastifyRequest) => Scope | readonly Scope[]);

/** Who may call a route, declared with it (`{ config: { roles, scope } }`) and checked by one hook before the handler runs. */
declare module 'fastify' {
  interface FastifyContextConfig {
    /** Reachable without a token (health, metadata, docs). */
    public?: boolean;
    /** Routes that take a signed link (`signature` in the query) instead of a token; the route checks it. */
    signedLink?: boolean;
    roles?: readonly Role[];
    scope?: ScopeDeclaration;
  }
}

export type RouteAccess = Pick<FastifyContextConfig, 'public' | 'roles' | 'scope'>;

/** Every authenticated caller, whatever its role (scopes still apply). */
export const ANY_ROLE = ROLES;

/** A route says who may call it or that it is public; one that says neither is refused (fail closed). */
export function declaresAccess(config: RouteAccess | undefined): boolean {
  return Boolean(config?.public || (config?.roles && config.roles.length > 0));
}

/** Throws 403 unless the caller has one of the route's roles and every scope it names. */
export function checkAccess(caller: Caller, config: RouteAccess | undefined, request: FastifyRequest): void {
  if (!declaresAccess(config)) throw forbidden('This route declares no callers, so it answers none');
  requireRole(caller, ...config!.roles!);
  const declared = typeof config!.scope === 'function' ? config!.scope(request) : config!.scope;
  for (const scope of typeof declared === 'string' ? [declared] : (declared ?? [])) {
    const dot = scope.lastIndexOf('.');
    requireScope(caller, scope.slice(0, dot), scope.slice(dot + 1) as Interaction);
  }
}

/** Routes registered without a declaration, named for the boot error. */
export function undeclared(routes: readonly RouteOptions[]): string[] {
  return routes.filter((route) => !declaresAccess(route.config as RouteAccess | undefined)).map((route) => `${String(route.method)} ${route.url}`);
}
