import type { FastifyInstance } from 'fastify';
import type { Resource } from 'fhir/r4.js';
import { ANY_ROLE } from '../../auth/route-access.js';
import type { Config } from '../../config.js';
import { searchsetBundle } from '../../fhir/bundle.js';
import { CONFORMANCE_TYPES, loadConformanceResources } from '../../fhir/conformance.js';
import { FHIR_JSON } from '../../fhir/media-type.js';
import { FhirError, notFound } from '../../fhir/operation-outcome.js';
import { capabilityStatement } from './capability-statement.js';
import { smartConfiguration } from './smart-configuration.js';

/**
 * The CapabilityStatement (public) and the service's own profiles, code systems and value sets
 * (read-only, for any authenticated caller: they hold no patient data).
 */
export default async function conformanceRoutes(app: FastifyInstance, { config }: { config: Config }) {
  const resources = loadConformanceResources();
  const base = config.PUBLIC_BASE_URL;
  const tokenUrl = config.AUTH_TOKEN_URL;
  const metadata = capabilityStatement(base, [...resources.values()], { tokenUrl });

  app.get('/fhir/metadata', { config: { public: true } }, async (_request, reply) => reply.type(FHIR_JSON).send(metadata));

  // Discovery lives under the FHIR base; the server root answers the same for clients that look there.
  const discovery = tokenUrl ? smartConfiguration(tokenUrl, metadata) : undefined;
  for (const path of ['/fhir/.well-known/smart-configuration', '/.well-known/smart-configuration']) {
    app.get(path, { config: { public: true } }, async () => {
      if (!discovery) throw new FhirError(404, { code: 'not-found', diagnostics: 'SMART discovery is not configured: AUTH_TOKEN_URL (the identity provider’s token endpoint) is not set' });
      return discovery;
    });
  }

  for (const type of CONFORMANCE_TYPES) {
    const ofType = [...resources.values()].filter((resource) => resource.resourceType === type);
    // A handful of resources: the only search is by canonical url; anything else is reported.
    app.get<{ Querystring: Record<string, string> }>(`/fhir/${type}`, { config: { roles: ANY_ROLE } }, async (request, reply) => {
      const unsupported = Object.keys(request.query).filter((name) => name !== 'url');
      if (unsupported.length > 0) {
        throw new FhirError(400, unsupported.map((name) => ({ code: 'not-supported' as const, expression: name, diagnostics: `Search parameter ${name} is not supported for ${type}; use url` })));
      }
      const found = ofType.filter((resource) => !request.query.url || (resource as { url?: string }).url === request.query.url);
      return reply.type(FHIR_JSON).send(searchsetBundle(base, found.length, found, [], [{ relation: 'self', url: `${base}/fhir/${type}` }]));
    });
    app.get<{ Params: { id: string } }>(`/fhir/${type}/:id`, { config: { roles: ANY_ROLE } }, async (request, reply) => {
      const resource: Resource | undefined = resources.get(`${type}/${request.params.id}`);
      if (!resource) throw notFound(`${type}/${request.params.id}`);
      return reply.type(FHIR_JSON).send(resource);
    });
  }
}
