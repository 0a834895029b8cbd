import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ANY_ROLE, type Scope } from '../../auth/route-access.js';
import type { TenantRepository } from '../../auth/tenant-repository.js';
import type { Config } from '../../config.js';
import { historyBundle } from '../../fhir/bundle.js';
import { FHIR_JSON } from '../../fhir/media-type.js';
import { badRequest, FhirError, notFound } from '../../fhir/operation-outcome.js';
import { notOffered } from './interactions.js';
import { sendResource } from '../../fhir/etag.js';
import { ID_PATTERN, storedType } from './resource-types.js';
import { search } from './search.js';

type SearchParams = Record<string, string | string[]>;
const FORM = 'application/x-www-form-urlencoded';

/** A form body as search parameters; a null prototype, so that no name reaches Object.prototype. */
function formParameters(body: string): SearchParams {
  const params: Record<string, string[]> = Object.create(null);
  for (const [name, value] of new URLSearchParams(body)) (params[name] ??= []).push(value);
  return params;
}

function mergeParameters(...sources: SearchParams[]): SearchParams {
  const merged: Record<string, string[]> = Object.create(null);
  for (const source of sources) for (const [name, value] of Object.entries(source)) (merged[name] ??= []).push(...(Array.isArray(value) ? value : [value]));
  return merged;
}

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
const searching = { roles: ANY_ROLE, scope: scopeOfType('s') };

/** Read, vread, history and search of stored resources, always within the caller's tenancy. */
export default async function fhirRestRoutes(app: FastifyInstance, { config }: { config: Config }) {

  async function readVisible(repo: TenantRepository, type: string, id: string) {
    if (!ID_PATTERN.test(id)) throw badRequest('Invalid resource id', 'id');
    const stored = await repo.read(type, id);
    // Another tenant's resource answers exactly like one that does not exist (contract §3).
    if (!stored) throw notFound(`${type}/${id}`);
    return stored;
  }

  async function searchType(request: FastifyRequest<{ Params: TypeParams }>, params: SearchParams) {
    const type = storedType(request.params.type);
    const lenient = /handling=lenient/.test(String(request.headers.prefer ?? ''));
    return search(request.repo, config.PUBLIC_BASE_URL, type, params, lenient);
  }

  app.get<{ Params: TypeParams; Querystring: SearchParams }>('/fhir/:type', { config: searching }, async (request, reply) => {
    return reply.type(FHIR_JSON).send(await searchType(request, request.query));
  });

  // `POST [type]/_search`: the same search with its parameters in a form body (and the URL), kept out of URLs and logs.
  app.addContentTypeParser(FORM, { parseAs: 'string' }, (_request, body, done) => done(null, formParameters(body as string)));
  app.post<{ Params: TypeParams; Querystring: SearchParams; Body: SearchParams | undefined }>('/fhir/:type/_search', { config: searching }, async (request, reply) => {
    if (request.body !== undefined && !request.headers['content-type']?.startsWith(FORM)) {
      throw new FhirError(415, { code: 'not-supported', diagnostics: `POST _search takes its parameters as ${FORM}` });
    }
    return reply.type(FHIR_JSON).send(await searchType(request, mergeParameters(request.query, request.body ?? {})));
  });

  app.get<{ Params: TypeParams }>('/fhir/:type/_history', { config: searching }, async (request) => {
    storedType(request.params.type);
    throw notOffered(request.method, request.url);
  });

  app.get<{ Params: InstanceParams }>('/fhir/:type/:id', { config: read }, async (request, reply) => {
    const type = storedType(request.params.type);
    const stored = await readVisible(request.repo, type, request.params.id);
    return sendResource(reply, stored.resource);
  });

  app.get<{ Params: InstanceParams }>('/fhir/:type/:id/_history', { config: read }, async (request, reply) => {
    const type = storedType(request.params.type);
    const { id } = request.params;
    if (!ID_PATTERN.test(id)) throw badRequest('Invalid resource id', 'id');
    // The repository answers nothing for a resource outside the caller's tenancy: 404, as for a read.
    const versions = await request.repo.history(type, id);
    if (!versions) throw notFound(`${type}/${id}`);
    return reply.type(FHIR_JSON).send(historyBundle(config.PUBLIC_BASE_URL, versions));
  });

  app.get<{ Params: VersionParams }>('/fhir/:type/:id/_history/:versionId', { config: read }, async (request, reply) => {
    const type = storedType(request.params.type);
    await readVisible(request.repo, type, request.params.id);
    const version = await request.repo.vread(type, request.params.id, request.params.versionId);
    if (!version) throw notFound(`${type}/${request.params.id}/_history/${request.params.versionId}`);
    return sendResource(reply, version.resource);
  });
}
