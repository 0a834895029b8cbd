import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { requireRole, requireScope } from '../auth/caller.js';
import { disclosable, requireClaimScopes } from '../auth/disclosure.js';
import { collectionBundle } from '../fhir/bundle.js';
import { notFound } from '../fhir/operation-outcome.js';
import { parseOrThrow } from '../fhir/validation.js';
import { sendResource } from '../http/fhir/etag.js';

const MAX_WAIT_SECONDS = 30;

const claimQuery = z.strictObject({
  wait: z.coerce.number().int().min(0).max(MAX_WAIT_SECONDS, `wait is at most ${MAX_WAIT_SECONDS} seconds`).default(0),
});
const ackBody = z.strictObject({
  status: z.enum(['accepted', 'rejected']),
  statusReason: z.string().trim().min(1).max(2000).optional(),
});

interface TeamParams {
  team: string;
}
interface LeaseParams extends TeamParams {
  leaseId: string;
}

/** A coach system works only on its own team's queue; any other team answers as if it did not exist. */
function ownTeam(app: FastifyInstance, request: FastifyRequest<{ Params: TeamParams }>, interaction: 'r' | 'u'): string {
  const { caller } = request;
  const { team } = request.params;
  requireRole(caller, 'coach', ...(interaction === 'r' ? (['operator'] as const) : []));
  requireScope(caller, 'Task', interaction);
  if (!app.queues.has(team) || (caller.role === 'coach' && caller.org !== team)) throw notFound(`Queue ${team}`);
  return team;
}

/** The team queue (contract §6): claim with a lease, then ack, release or extend; counts. */
export default async function queueRoutes(app: FastifyInstance) {
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });

  app.post<{ Params: TeamParams; Querystring: Record<string, string> }>('/queues/:team/claim', async (request, reply) => {
    const team = ownTeam(app, request, 'u');
    const { wait } = parseOrThrow(claimQuery, request.query);
    requireClaimScopes(request.caller);
    const claim = await app.leases.claim(team, wait, () => closing);
    if (!claim) return reply.code(204).send();
    return { lease: claim.lease, bundle: collectionBundle(app.config.PUBLIC_BASE_URL, disclosable(request.caller, claim.resources)) };
  });

  app.post<{ Params: LeaseParams }>('/queues/:team/leases/:leaseId/ack', async (request, reply) => {
    const team = ownTeam(app, request, 'u');
    const { status, statusReason } = parseOrThrow(ackBody, request.body);
    return sendResource(reply, await app.leases.acknowledge(team, request.params.leaseId, status, statusReason, request.id));
  });

  app.post<{ Params: LeaseParams }>('/queues/:team/leases/:leaseId/release', async (request, reply) => {
    const team = ownTeam(app, request, 'u');
    return sendResource(reply, await app.leases.release(team, request.params.leaseId));
  });

  app.post<{ Params: LeaseParams }>('/queues/:team/leases/:leaseId/extend', async (request) => {
    const team = ownTeam(app, request, 'u');
    return { lease: await app.leases.extend(team, request.params.leaseId) };
  });

  app.get<{ Params: TeamParams }>('/queues/:team', async (request) => {
    const team = ownTeam(app, request, 'r');
    return { team, ...(await app.leases.counts(team)) };
  });
}
