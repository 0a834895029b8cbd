import type { FastifyInstance } from 'fastify';
import { requireScope, type Caller } from '../../auth/caller.js';
import { mayDisclose } from '../../auth/disclosure.js';
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

  app.get<{ Params: TypeParams; Querystring: Record<string, string | string[]> }>('/fhir/:type', async (request, reply) => {
    const type = storedType(request.params.type);
    requireScope(request.caller, type, 's');
    const lenient = /handling=lenient/.test(String(request.headers.prefer ?? ''));
    const bundle = await search(store, config.PUBLIC_BASE_URL, type, request.query, request.caller, lenient);
    return reply.type(FHIR_JSON).send(bundle);
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
