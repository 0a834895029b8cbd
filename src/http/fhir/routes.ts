import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ANY_ROLE, type Scope } from '../../auth/route-access.js';
import type { TenantRepository } from '../../auth/tenant-repository.js';
import { historyBundle } from '../../fhir/bundle.js';
import { FHIR_JSON } from '../../fhir/media-type.js';
import { badRequest, notFound } from '../../fhir/operation-outcome.js';
import { sendResource } from './etag.js';
import { ID_PATTERN, storedType } from './resource-types.js';
import { search } from './search.js';

interface TypeParams {
  type: string;
}
interface InstanceParams extends TypeParams {
  id: string;
}
interface VersionParams extends InstanceParams {
  versionId: string;
}

/** The scope of an interaction on the stored type the path names; an unknown type answers 404 first. */
const scopeOfType =
  (interaction: 'r' | 's') =>
  (request: FastifyRequest): Scope =>
    `${storedType((request.params as TypeParams).type)}.${interaction}`;
const read = { roles: ANY_ROLE, scope: scopeOfType('r') };

/** Read, vread, history and search of stored resources, always within the caller's tenancy. */
export default async function fhirRestRoutes(app: FastifyInstance) {
  const { config } = app;

  async function readVisible(repo: TenantRepository, type: string, id: string) {
    if (!ID_PATTERN.test(id)) throw badRequest('Invalid resource id', 'id');
    const stored = await repo.read(type, id);
    // Another tenant's resource answers exactly like one that does not exist (contract §3).
    if (!stored) throw notFound(`${type}/${id}`);
    return stored;
  }

  app.get<{ Params: TypeParams; Querystring: Record<string, string | string[]> }>('/fhir/:type', { config: { roles: ANY_ROLE, scope: scopeOfType('s') } }, async (request, reply) => {
    const type = storedType(request.params.type);
    const lenient = /handling=lenient/.test(String(request.headers.prefer ?? ''));
    const bundle = await search(request.repo, config.PUBLIC_BASE_URL, type, request.query, lenient);
    return reply.type(FHIR_JSON).send(bundle);
  });

  app.get<{ Params: InstanceParams }>('/fhir/:type/:id', { config: read }, async (request, reply) => {
    const type = storedType(request.params.type);
    const stored = await readVisible(request.repo, type, request.params.id);
    return sendResource(reply, stored.resource);
  });

  app.get<{ Params: InstanceParams }>('/fhir/:type/:id/_history', { config: read }, async (request, reply) => {
    const type = storedType(request.params.type);
    await readVisible(request.repo, type, request.params.id);
    const versions = await request.repo.history(type, request.params.id);
    return reply.type(FHIR_JSON).send(historyBundle(config.PUBLIC_BASE_URL, versions ?? []));
  });

  app.get<{ Params: VersionParams }>('/fhir/:type/:id/_history/:versionId', { config: read }, async (request, reply) => {
    const type = storedType(request.params.type);
    await readVisible(request.repo, type, request.params.id);
    const version = await request.repo.vread(type, request.params.id, request.params.versionId);
    if (!version) throw notFound(`${type}/${request.params.id}/_history/${request.params.versionId}`);
    return sendResource(reply, version.resource);
  });
}
