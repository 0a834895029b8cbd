import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { z } from 'zod';
import type { Config } from '../config.js';
import { searchsetBundle } from '../fhir/bundle.js';
import { FHIR_JSON } from '../fhir/media-type.js';
import { FhirError } from '../fhir/operation-outcome.js';
import { parseOrThrow } from '../fhir/validation.js';
import { auditRecord, disclosureOf } from './audit-event.js';
import { AuditTrail } from './audit-trail.js';

const auditQuery = z
  .strictObject({
    patient: z.string().regex(/^Patient\/[A-Za-z0-9.-]{1,64}$/, 'expected Patient/{id}').optional(),
    identifier: z.string().regex(/^[^|]+\|[^|]+$/, 'expected system|value, e.g. a BSN').optional(),
    client: z.string().min(1).max(200).optional(),
  })
  .refine((query) => query.patient || query.identifier || query.client, 'give patient, identifier or client');

/**
 * Every response that carries or changes patient data leaves an AuditEvent first: it is written
 * before the response is sent, and a response whose AuditEvent cannot be written is not sent.
 */
export default fp(
  async function audit(app: FastifyInstance, { audit: trail, config }: { audit: AuditTrail; config: Config }) {
    app.addHook('preSerialization', async (request, reply, payload) => {
      if (!request.caller || reply.statusCode >= 400) return payload;
      const disclosure = disclosureOf(payload);
      if (disclosure.patients.length === 0) return payload;
      await trail.append(
        auditRecord({
          id: AuditTrail.newId(),
          caller: request.caller,
          method: request.method,
          route: request.routeOptions.url ?? 'unknown',
          status: reply.statusCode,
          requestId: request.id,
          recorded: new Date(),
          disclosure,
        }),
      );
      return payload;
    });

    /** The accesses to one patient's data (the overview a patient may ask for), or by one client. */
    app.get<{ Querystring: Record<string, string> }>('/operator/audit', { config: { roles: ['operator'] } }, async (request, reply) => {
      const query = parseOrThrow(auditQuery, request.query);
      const patients = query.patient ? [query.patient] : [];
      if (query.identifier) {
        const { resources } = await request.repo.search({ type: 'Patient', filters: [[['identifier', query.identifier]]], count: 100 });
        patients.push(...resources.map((patient) => `Patient/${patient.id}`));
      }
      const events = await trail.find({ patients, client: query.client });
      const base = config.PUBLIC_BASE_URL;
      return reply.type(FHIR_JSON).send(searchsetBundle(base, events.length, events, [], [{ relation: 'self', url: `${base}/operator/audit` }]));
    });

    app.get('/operator/audit/verify', { config: { roles: ['operator'] } }, async () => {
      const check = await trail.verify();
      if (!check.valid) throw new FhirError(409, { code: 'conflict', diagnostics: `The audit chain is broken at sequence number ${check.brokenAt}` });
      return check;
    });
  },
  { name: 'audit' },
);
