import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { PRACTICE_AGB } from '../fixtures/referral.js';
import { expectValidFhir } from '../support/fhir-validation.js';
import { submitReferral } from '../support/referrals.js';
import { startService, type TestService } from '../support/service.js';

let service: TestService;
let gp: string;
let coach: string;
let operator: string;

beforeAll(async () => {
  service = await startService();
  gp = await service.token('gp', PRACTICE_AGB, { clientId: 'his-de-linde' });
  coach = await service.token('coach', 'leiden-noord', { clientId: 'coach-app-noord' });
  operator = await service.token('operator', 'regio-leiden');
});
afterAll(() => service.close());

const auditFor = async (query: string) => (await service.request('GET', `/operator/audit?${query}`, { token: operator })).body;

describe('the NEN 7513 audit trail', () => {
  test('every access to a patient’s data is recorded with who, for which organisation, what and when', async () => {
    const { taskId } = await submitReferral(service, gp);
    const task = (await service.request('GET', `/fhir/Task/${taskId}`, { token: coach })).body;
    const patient = task.for.reference;
    const events = (await auditFor(`patient=${patient}`)).entry.map((entry: { resource: any }) => entry.resource);
    expect(events.map((event: any) => [event.action, event.agent[0].who.identifier.value, event.agent[1].who.identifier.value])).toEqual([
      ['C', 'his-de-linde', 'gp:01054321'],
      ['R', 'coach-app-noord', 'coach:leiden-noord'],
    ]);
    const read = events[1];
    expect(read.entity.map((entity: any) => entity.what.reference)).toEqual([patient, `Task/${taskId}`]);
    expect(Date.parse(read.recorded)).toBeGreaterThan(Date.now() - 60_000);
    for (const event of events) expectValidFhir(event);
  });

  test('the overview for a patient by BSN covers every referral of that patient; by client it shows what a client saw', async () => {
    await submitReferral(service, gp);
    await submitReferral(service, gp);
    const overview = await auditFor(`identifier=${encodeURIComponent('http://fhir.nl/fhir/NamingSystem/bsn|999990019')}`);
    expect(overview.total).toBeGreaterThanOrEqual(2);
    const byClient = await auditFor('client=his-de-linde');
    expect(byClient.entry.every((entry: any) => entry.resource.agent[0].who.identifier.value === 'his-de-linde')).toBe(true);
  });

  test('a refused access discloses nothing and records no patient', async () => {
    const before = (await auditFor('client=coach-app-zuid')).total;
    const { taskId } = await submitReferral(service, gp);
    const other = await service.token('coach', 'leiden-zuid', { clientId: 'coach-app-zuid' });
    expect((await service.request('GET', `/fhir/Task/${taskId}`, { token: other })).status).toBe(404);
    expect((await auditFor('client=coach-app-zuid')).total).toBe(before);
  });

  test('the chain verifies, and removing an event breaks it', async () => {
    await submitReferral(service, gp);
    const check = await service.request('GET', '/operator/audit/verify', { token: operator });
    expect(check.status).toBe(200);
    expect(check.body.valid).toBe(true);
    expect(check.body.events).toBeGreaterThan(3);
    const [, second] = await service.redis.xrange(`${service.prefix}:audit`, "-", "+", "COUNT", 2);
    const firstId = second![0];
    await service.redis.xdel(`${service.prefix}:audit`, firstId);
    const broken = await service.request('GET', '/operator/audit/verify', { token: operator });
    expect(broken.status).toBe(409);
  });

  test('only operators read the audit trail', async () => {
    expect((await service.request('GET', '/operator/audit?client=x', { token: gp })).status).toBe(403);
    expect((await service.request('GET', '/operator/audit', { token: operator })).status).toBe(400);
  });
});
