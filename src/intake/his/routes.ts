import type { FastifyInstance } from 'fastify';
import { practiceTag } from '../../auth/caller.js';
import type { Config } from '../../config.js';
import { collectionBundle } from '../../fhir/bundle.js';
import { FHIR_JSON } from '../../fhir/media-type.js';
import { FhirError } from '../../fhir/operation-outcome.js';
import { NAMING_SYSTEM } from '../../fhir/profiles.js';
import { parseOrThrow } from '../../fhir/validation.js';
import { referralSchema } from '../referral.js';
import { submitReferral, type IntakeDependencies } from '../submit-referral.js';

/** `POST /referrals`: a HIS submits a Welzijn op Recept referral (contract §5.1). */
export default async function hisIntakeRoutes(app: FastifyInstance, { config, intake }: { config: Config; intake: IntakeDependencies }) {
  app.post('/referrals', { config: { roles: ['gp'], scope: 'ServiceRequest.c', referralChannel: 'his' } }, async (request, reply) => {
    const { caller } = request;
    const referral = parseOrThrow(referralSchema, request.body);
    const practiceAgb = referral.requester.practice.agb;
    if (practiceAgb !== caller.org) {
      throw new FhirError(403, { code: 'forbidden', expression: 'requester.practice.agb', diagnostics: 'The practice AGB is not the practice of the access token' });
    }
    const result = await submitReferral(intake, referral, {
      name: 'his',
      party: practiceTag(practiceAgb),
      identifierSystem: NAMING_SYSTEM.practiceReferral(practiceAgb),
      tenants: [practiceTag(practiceAgb)],
    });
    return reply
      .code(result.created ? 201 : 200)
      .header('location', `/fhir/ServiceRequest/${result.serviceRequestId}`)
      .type(FHIR_JSON)
      .send(collectionBundle(config.PUBLIC_BASE_URL, result.resources));
  });
}
