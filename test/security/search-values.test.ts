import { beforeAll, describe, expect, test } from '@jest/globals';
import { FhirError } from '../../src/fhir/operation-outcome.js';
import { MAX_SEARCH_VALUE_LENGTH, parseSearch } from '../../src/http/fhir/search.js';
import { PRACTICE_AGB } from '../fixtures/referral.js';
import { submitReferral } from '../support/referrals.js';
import { withService } from '../support/service.js';

let referral: Awaited<ReturnType<typeof submitReferral>>;

const { service, gp } = await withService({ tokens: { gp: ['gp', PRACTICE_AGB] } });
beforeAll(async () => {
  referral = await submitReferral(service, gp);
});

const timed = async (path: string) => {
  const started = performance.now();
  const response = await service.request('GET', path, { token: gp });
  return { response, ms: performance.now() - started };
};

describe('search values are parsed in linear time and capped in length', () => {
  test('the review’s 14,000-letter patient value answers 400 naming the parameter, quickly', async () => {
    for (const value of ['a'.repeat(14_000), `Patient/${'a'.repeat(14_000)}`, `${'a/'.repeat(7_000)}x`]) {
      const { response, ms } = await timed(`/fhir/Task?patient=${value}`);
      expect(response.status).toBe(400);
      expect(response.body.issue[0]).toMatchObject({ code: 'invalid', expression: ['patient'] });
      expect(ms).toBeLessThan(200);
    }
  });

  test('a 100,000-character value is refused with 400 by the parser in well under 200 ms', () => {
    for (const value of ['a'.repeat(100_000), `${'Patient/'.repeat(12_500)}`, `${'a'.repeat(99_999)}/`]) {
      const started = performance.now();
      let error: unknown;
      try {
        parseSearch('Task', { patient: value });
      } catch (caught) {
        error = caught;
      }
      expect(performance.now() - started).toBeLessThan(200);
      expect(error).toBeInstanceOf(FhirError);
      expect((error as FhirError).statusCode).toBe(400);
    }
  });

  test('over HTTP a 100,000-character query is refused before it reaches a parser (header limit), quickly', async () => {
    const { response, ms } = await timed(`/fhir/Task?patient=${'a'.repeat(100_000)}`);
    expect([400, 431]).toContain(response.status);
    expect(ms).toBeLessThan(200);
  });

  test('a value at the cap is still parsed; reference forms keep working', async () => {
    const atCap = await timed(`/fhir/Task?patient=${'a'.repeat(MAX_SEARCH_VALUE_LENGTH)}`);
    expect(atCap.response.status).toBe(200);
    expect(atCap.response.body.total).toBe(0);
    const found = await service.request('GET', `/fhir/Task?focus=ServiceRequest/${referral.serviceRequestId}`, { token: gp });
    const task = found.body.entry[0].resource;
    const patientId = task.for.reference.split('/')[1];
    for (const value of [patientId, `Patient/${patientId}`, `https://elsewhere.example/fhir/Patient/${patientId}`]) {
      const response = await service.request('GET', `/fhir/Task?patient=${encodeURIComponent(value)}`, { token: gp });
      expect({ value, total: response.body.total }).toEqual({ value, total: 1 });
    }
  });
});
