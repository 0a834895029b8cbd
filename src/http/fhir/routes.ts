import type { FastifyInstance, FastifyRequest } from 'fastify';
import { requireScope, type Caller } from '../../auth/caller.js';
import { mayDisclose } from '../../auth/disclosure.js';
import { historyBundle } from '../../fhir/bundle.js';
import { FHIR_JSON } from '../../fhir/media-type.js';
import { badRequest, FhirError, notFound } from '../../fhir/operation-outcome.js';
import { notOffered } from './interactions.js';
import { sendResource } from './etag.js';
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

/** Read, vread, history and search of stored resources, always within the caller's tenancy. */
export default async function fhirRestRoutes(app: FastifyInstance) {
  const { store, config } = app;

  async function readVisible(type: string, id: string, request: { caller: Caller }) {
    if (!ID_PATTERN.test(id)) throw badRequest('Invalid resource id', 'id');
    const stored = await store.read(type, id);
    // Another tenant's resource answers exactly like one that does not exist (contract §3).
    if (!stored || !mayDisclose(request.caller, stored)) throw notFound(`${type}/${id}`);
    return stored;
  }

  async function searchType(request: FastifyRequest<{ Params: TypeParams }>, params: SearchParams) {
    const type = storedType(request.params.type);
    requireScope(request.caller, type, 's');
    const lenient = /handling=lenient/.test(String(request.headers.prefer ?? ''));
    return search(store, config.PUBLIC_BASE_URL, type, params, request.caller, lenient);
  }

  app.get<{ Params: TypeParams; Querystring: SearchParams }>('/fhir/:type', async (request, reply) => {
    return reply.type(FHIR_JSON).send(await searchType(request, request.query));
  });

  // `POST [type]/_search`: the same search with its parameters in a form body (and the URL), kept out of URLs and logs.
  app.addContentTypeParser(FORM, { parseAs: 'string' }, (_request, body, done) => done(null, formParameters(body as string)));
  app.post<{ Params: TypeParams; Querystring: SearchParams; Body: SearchParams | undefined }>('/fhir/:type/_search', async (request, reply) => {
    if (request.body !== undefined && !request.headers['content-type']?.startsWith(FORM)) {
      throw new FhirError(415, { code: 'not-supported', diagnostics: `POST _search takes its parameters as ${FORM}` });
    }
    return reply.type(FHIR_JSON).send(await searchType(request, mergeParameters(request.query, request.body ?? {})));
  });

  app.get<{ Params: TypeParams }>('/fhir/:type/_history', async (request) => {
    storedType(request.params.type);
    throw notOffered(request.method, request.url);
  });

  app.get<{ Params: InstanceParams }>('/fhir/:type/:id', async (request, reply) => {
    const type = storedType(request.params.type);
    requireScope(request.caller, type, 'r');
    const stored = await readVisible(type, request.params.id, request);
    return sendResource(reply, stored.resource);
  });

  app.get<{ Params: InstanceParams }>('/fhir/:type/:id/_history', async (request, reply) => {
    const type = storedType(request.params.type);
    requireScope(request.caller, type, 'r');
    await readVisible(type, request.params.id, request);
    const history = await store.history(type, request.params.id);
    return reply.type(FHIR_JSON).send(historyBundle(config.PUBLIC_BASE_URL, history?.versions ?? []));
  });

  app.get<{ Params: VersionParams }>('/fhir/:type/:id/_history/:versionId', async (request, reply) => {
    const type = storedType(request.params.type);
    requireScope(request.caller, type, 'r');
    await readVisible(type, request.params.id, request);
    const version = await store.vread(type, request.params.id, request.params.versionId);
    if (!version) throw notFound(`${type}/${request.params.id}/_history/${request.params.versionId}`);
    return sendResource(reply, version.resource);
  });
}
