import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Scope } from '../auth/route-access.js';
import type { Config } from '../config.js';
import { collectionBundle } from '../fhir/bundle.js';
import { notFound } from '../fhir/operation-outcome.js';
import { parseOrThrow } from '../fhir/validation.js';
import { sendResource } from '../fhir/etag.js';
import type { LeaseService } from './lease-service.js';
import type { TeamQueues } from './team-queues.js';

const MAX_WAIT_SECONDS = 30;

const claimQuery = z.strictObject({
  wait: z.coerce.number().int().min(0).max(MAX_WAIT_SECONDS, `wait is at most ${MAX_WAIT_SECONDS} seconds`).default(0),
});
export const ackBody = z.strictObject({
  status: z.enum(['accepted', 'rejected']),
  statusReason: z.string().trim().min(1).max(2000).optional(),
});

interface TeamParams {
  team: string;
}
interface LeaseParams extends TeamParams {
  leaseId: string;
}

const work = { roles: ['coach'], scope: 'Task.u' } as const;
const CLAIM_BUNDLE_TYPES = ['Task', 'ServiceRequest', 'Patient', 'Consent', 'PractitionerRole', 'Practitioner', 'Organization', 'DocumentReference'];
/**
 * A claim Bundle holds these types. A coach system gets all of them or no lease at all: a token whose
 * scopes do not cover one is refused before anything is leased, so no Task waits on a lease nobody can work.
 */
const claim = { roles: ['coach'], scope: ['Task.u', ...CLAIM_BUNDLE_TYPES.map((type): Scope => `${type}.r`)] } as const;

/** A coach system works only on its own team's queue; any other team answers as if it did not exist. */
function ownTeam(queues: TeamQueues, request: FastifyRequest<{ Params: TeamParams }>): string {
  const { caller } = request;
  const { team } = request.params;
  if (!queues.has(team) || (caller.role === 'coach' && caller.org !== team)) throw notFound(`Queue ${team}`);
  return team;
}

/** The team queue (contract §6): claim with a lease, then ack, release or extend; counts. */
export default async function queueRoutes(app: FastifyInstance, { config, queues, leases }: { config: Config; queues: TeamQueues; leases: LeaseService }) {
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });

  app.post<{ Params: TeamParams; Querystring: Record<string, string> }>('/queues/:team/claim', { config: claim }, async (request, reply) => {
    const team = ownTeam(queues, request);
    const { wait } = parseOrThrow(claimQuery, request.query);
    const claimed = await leases.claim(team, wait, () => closing);
    if (!claimed) return reply.code(204).send();
    return { lease: claimed.lease, bundle: collectionBundle(config.PUBLIC_BASE_URL, request.repo.disclosable(claimed.resources)) };
  });

  app.post<{ Params: LeaseParams }>('/queues/:team/leases/:leaseId/ack', { config: work }, async (request, reply) => {
    const team = ownTeam(queues, request);
    const { status, statusReason } = parseOrThrow(ackBody, request.body);
    return sendResource(reply, await leases.acknowledge(team, request.params.leaseId, status, statusReason, request.id));
  });

  app.post<{ Params: LeaseParams }>('/queues/:team/leases/:leaseId/release', { config: work }, async (request, reply) => {
    const team = ownTeam(queues, request);
    return sendResource(reply, await leases.release(team, request.params.leaseId));
  });

  app.post<{ Params: LeaseParams }>('/queues/:team/leases/:leaseId/extend', { config: work }, async (request) => {
    const team = ownTeam(queues, request);
    return { lease: await leases.extend(team, request.params.leaseId) };
  });

  app.get<{ Params: TeamParams }>('/queues/:team', { config: { roles: ['coach', 'operator'], scope: 'Task.r' } }, async (request) => {
    const team = ownTeam(queues, request);
    return { team, ...(await leases.counts(team)) };
  });
}
