import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { exampleReferral, PRACTICE_AGB } from '../fixtures/referral.js';
import { startService, type TestService } from '../support/service.js';

let service: TestService;
let gpToken: string;

beforeAll(async () => {
  service = await startService();
  gpToken = await service.token('gp', PRACTICE_AGB);
});
afterAll(() => service.close());

describe('POST /referrals', () => {
  test('a complete referral is stored as FHIR and its Task queued for the team of the postcode', async () => {
    const response = await service.request('POST', '/referrals', { token: gpToken, body: exampleReferral() });
    expect(response.status).toBe(201);
    expect(response.headers.get('location')).toMatch(/^\/fhir\/ServiceRequest\/[0-9a-f-]{36}$/);
    const types = response.body.entry.map((entry: any) => entry.resource.resourceType);
    expect(types).toEqual(['ServiceRequest', 'Task', 'Patient', 'Consent', 'Practitioner', 'PractitionerRole', 'Organization']);
  });
});
