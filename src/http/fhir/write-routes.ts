import type { FastifyInstance } from 'fastify';
import type { ServiceRequest, Task } from 'fhir/r4.js';
import { tenantTag, type Caller } from '../../auth/caller.js';
import { ANY_ROLE } from '../../auth/route-access.js';
import type { TenantRepository } from '../../auth/tenant-repository.js';
import type { Config } from '../../config.js';
import { reviseReferral } from '../../intake/cancel-referral.js';
import type { ResourceStore, Stored } from '../../store/resource-store.js';
import type { Party } from '../../tasks/state-machine.js';
import { teamOfTask, type TaskService } from '../../tasks/task-service.js';
import { applyJsonPatch, MAX_PATCH_OPERATIONS } from '../../fhir/json-patch.js';
import { FhirError, notFound, preconditionFailed } from '../../fhir/operation-outcome.js';
import { parseIfMatch, sendResource } from '../../fhir/etag.js';
import { ID_PATTERN } from './resource-types.js';

/** The caller's part in a Task it can see: its team, its referrer, or an operator. */
function partyFor(caller: Caller, stored: Stored<Task>): Party {
  if (caller.role === 'operator') return 'operator';
  if (caller.role === 'coach' && caller.org === teamOfTask(stored.resource)) return 'team';
  if ((caller.role === 'gp' || caller.role === 'portal') && stored.acl.includes(tenantTag(caller))) return 'referrer';
  throw notFound('Task');
}

/** RFC 6902 on a copy, which must still be a resource of the same type. */
function patchResource<T extends { resourceType: string }>(document: T, patch: unknown, maxLength: number): T {
  const patched = applyJsonPatch(document, patch, { maxOperations: MAX_PATCH_OPERATIONS, maxLength });
  if (!patched || typeof patched !== 'object' || Array.isArray(patched) || patched.resourceType !== document.resourceType) {
    throw new FhirError(422, { code: 'business-rule', diagnostics: `The patch must leave a ${document.resourceType}` });
  }
  return patched as unknown as T;
}

/**
 * Writes through FHIR REST: the Task lifecycle (PUT or JSON Patch, with If-Match) and the
 * referrer's revocation of a ServiceRequest. Every other change is refused.
 */
export default async function fhirWriteRoutes(app: FastifyInstance, { config, store, tasks }: { config: Config; store: ResourceStore; tasks: TaskService }) {
  app.addContentTypeParser('application/json-patch+json', { parseAs: 'string' }, app.getDefaultJsonParser('error', 'error'));

  async function visibleTask(repo: TenantRepository, id: string): Promise<Stored<Task>> {
    const stored = ID_PATTERN.test(id) ? await repo.inTenancy<Task>('Task', id) : undefined;
    if (!stored) throw notFound(`Task/${id}`);
    return stored;
  }
  const updateTask = { roles: ANY_ROLE, scope: 'Task.u' } as const;

  app.put<{ Params: { id: string } }>('/fhir/Task/:id', { config: updateTask }, async (request, reply) => {
    const stored = await visibleTask(request.repo, request.params.id);
    const expected = parseIfMatch(request.headers['if-match']);
    const proposed = request.body as Task;
    const updated = await tasks.update(stored.resource.id!, partyFor(request.caller, stored), () => proposed, expected, request.id);
    return sendResource(reply, updated.resource);
  });

  app.patch<{ Params: { id: string } }>('/fhir/Task/:id', { config: updateTask }, async (request, reply) => {
    const stored = await visibleTask(request.repo, request.params.id);
    const expected = parseIfMatch(request.headers['if-match']);
    const updated = await tasks.update(
      stored.resource.id!,
      partyFor(request.caller, stored),
      (current) => patchResource(current, request.body, config.BODY_LIMIT_BYTES),
      expected,
      request.id,
    );
    return sendResource(reply, updated.resource);
  });

  // Only the referrer (or an operator) may revoke a referral.
  const revoke = { roles: ['gp', 'portal', 'operator'], scope: 'ServiceRequest.u' } as const;
  app.patch<{ Params: { id: string } }>('/fhir/ServiceRequest/:id', { config: revoke }, async (request, reply) => {
    const { caller, repo } = request;
    const id = request.params.id;
    const stored = ID_PATTERN.test(id) ? await repo.inTenancy<ServiceRequest>('ServiceRequest', id) : undefined;
    if (!stored) throw notFound(`ServiceRequest/${id}`);
    const expected = parseIfMatch(request.headers['if-match']);
    if (expected !== undefined && stored.resource.meta?.versionId !== expected) throw preconditionFailed('ServiceRequest');
    const patched = patchResource(stored.resource, request.body, config.BODY_LIMIT_BYTES);
    await reviseReferral(store, tasks, stored.resource, patched, caller.role === 'operator' ? 'operator' : 'referrer');
    const current = await repo.inTenancy<ServiceRequest>('ServiceRequest', id);
    return sendResource(reply, current!.resource);
  });
}
