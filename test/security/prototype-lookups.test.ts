import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, test } from '@jest/globals';
import { disclosureOf } from '../../src/audit/audit-event.js';
import { parseScopes } from '../../src/auth/scopes.js';
import { FhirError } from '../../src/fhir/operation-outcome.js';
import { readEnvelope } from '../../src/intake/portal/document-to-referral.js';
import { PRACTICE_AGB } from '../fixtures/referral.js';
import { submitReferral } from '../support/referrals.js';
import { withService } from '../support/service.js';

/** Names every plain object inherits: a lookup keyed by request input must not find them. */
const INHERITED = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf'];

const { service, coach, gp } = await withService({ tokens: { coach: ['coach', 'leiden-noord'], gp: ['gp', PRACTICE_AGB] } });
let taskId: string;

beforeAll(async () => {
  ({ taskId } = await submitReferral(service, gp));
});

describe('lookups keyed by request input see own entries only (issue 15, finding 7)', () => {
  test.each(INHERITED)('_include=Task:%s is reported as unsupported (400), or left out with handling=lenient', async (name) => {
    const strict = await service.request('GET', `/fhir/Task?_include=Task:${name}`, { token: coach });
    expect(strict.status).toBe(400);
    expect(strict.body.issue[0]).toMatchObject({ code: 'not-supported', expression: ['_include'] });
    const lenient = await service.request('GET', `/fhir/Task?_include=Task:${name}`, { token: coach, headers: { prefer: 'handling=lenient' } });
    expect(lenient.status).toBe(200);
    expect(lenient.body.entry.map((entry: any) => entry.resource.id)).toEqual([taskId]);
  });

  test.each(INHERITED)('the resource type %s in a URL is not found', async (name) => {
    expect((await service.request('GET', `/fhir/${name}?_count=1`, { token: coach })).status).toBe(404);
    expect((await service.request('GET', `/fhir/${name}/1`, { token: coach })).status).toBe(404);
  });

  test('a v1 scope named after an inherited member grants nothing, and does not spoil the scopes beside it', async () => {
    expect(parseScopes('system/Task.constructor system/*.constructor patient/constructor.read')).toEqual([]);
    const onlyOdd = await service.token('coach', 'leiden-noord', { scope: 'system/Task.constructor' });
    const read = await service.request('GET', `/fhir/Task/${taskId}`, { token: onlyOdd });
    expect(read.status).toBe(403);
    expect(read.body.issue[0].code).toBe('forbidden');
    const mixed = await service.token('coach', 'leiden-noord', { scope: 'system/Task.constructor system/Task.rs' });
    expect((await service.request('GET', `/fhir/Task/${taskId}`, { token: mixed })).status).toBe(200);
  });

  test.each(INHERITED)('a portal document of kind %s is refused as an unknown Composition.type', (kind) => {
    const document = JSON.parse(readFileSync('test/fixtures/portal/r4-verwijzing.json', 'utf8'));
    document.entry[0].resource.type.coding[0].code = kind;
    expect(() => readEnvelope(document)).toThrow(FhirError);
    try {
      readEnvelope(document);
    } catch (error) {
      expect((error as FhirError).statusCode).toBe(400);
      expect((error as FhirError).issues[0]!.expression).toBe('Bundle.entry[0].resource.type');
    }
  });

  test.each(INHERITED)('a payload of resourceType %s discloses no patient in the audit trail', (resourceType) => {
    expect(disclosureOf({ resourceType, id: 'x' })).toEqual({ patients: [], resources: [] });
  });
});
