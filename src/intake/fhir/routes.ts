import type { FastifyInstance } from 'fastify';
import type { Bundle, BundleEntry } from 'fhir/r4.js';
import { practiceTag } from '../../auth/caller.js';
import type { Config } from '../../config.js';
import { resourceUrl } from '../../fhir/bundle.js';
import { FHIR_JSON } from '../../fhir/media-type.js';
import { FhirError } from '../../fhir/operation-outcome.js';
import { submitReferral, type IntakeDependencies } from '../submit-referral.js';
import { refuseForeignIdentifierSystems, transactionToReferral, type TransactionReferral } from './transaction-to-referral.js';

const ENTRY_TYPES: Record<keyof TransactionReferral['entries'], string> = {
  serviceRequest: 'ServiceRequest',
  patient: 'Patient',
  practitioner: 'Practitioner',
  practitionerRole: 'PractitionerRole',
  practice: 'Organization',
  consent: 'Consent',
};

/**
 * `POST /fhir`: a FHIR-capable HIS posts a transaction with the ServiceRequest and what it
 * references (contract §5.3). All or nothing; a second post of the same identifier creates nothing.
 */
export default async function fhirTransactionRoutes(app: FastifyInstance, { config, intake }: { config: Config; intake: IntakeDependencies }) {
  app.post('/fhir', { config: { roles: ['gp'], scope: 'ServiceRequest.c', referralChannel: 'fhir' } }, async (request, reply) => {
    const { caller } = request;
    const { referral, identifierSystem, entries, locate } = transactionToReferral(request.body);
    const agb = referral.requester.practice.agb;
    if (agb !== caller.org) {
      throw new FhirError(403, {
        code: 'forbidden',
        expression: `Bundle.entry[${entries.practice}].resource.identifier`,
        diagnostics: 'The practice AGB is not the practice of the access token',
      });
    }
    refuseForeignIdentifierSystems(request.body as Bundle, agb);
    const result = await submitReferral(intake, referral, {
      name: 'fhir',
      party: practiceTag(agb),
      identifierSystem,
      tenants: [practiceTag(agb)],
      locate,
    });
    const written = new Map(result.resources.map((resource) => [resource.resourceType, resource]));
    const base = config.PUBLIC_BASE_URL;
    // Every entry is a part of the referral (the others were refused), so each is answered with what it became.
    const responseEntries: BundleEntry[] = (Object.keys(entries) as Array<keyof typeof entries>)
      .sort((a, b) => entries[a] - entries[b])
      .map((part) => {
        const resource = written.get(ENTRY_TYPES[part])!;
        return {
          fullUrl: resourceUrl(base, resource),
          resource,
          response: {
            status: result.createdResources.includes(`${resource.resourceType}/${resource.id}`) ? '201 Created' : '200 OK',
            location: `${resource.resourceType}/${resource.id}/_history/${resource.meta?.versionId}`,
            etag: `W/"${resource.meta?.versionId}"`,
            lastModified: resource.meta?.lastUpdated,
          },
        };
      });
    return reply
      .code(200)
      .header('location', `/fhir/ServiceRequest/${result.serviceRequestId}`)
      .type(FHIR_JSON)
      .send({ resourceType: 'Bundle', type: 'transaction-response', entry: responseEntries } satisfies Bundle);
  });
}
