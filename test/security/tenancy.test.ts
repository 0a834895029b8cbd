import { beforeAll, describe, expect, test } from '@jest/globals';
import { OTHER_PRACTICE_AGB, PRACTICE_AGB } from '../fixtures/referral.js';
import { patientAt, submitReferral } from '../support/referrals.js';
import { withService } from '../support/service.js';

const { service, ...tokens } = await withService({
  tokens: {
    linde: ['gp', PRACTICE_AGB],
    merenwijk: ['gp', OTHER_PRACTICE_AGB],
    noord: ['coach', 'leiden-noord'],
    zuid: ['coach', 'leiden-zuid'],
    operator: ['operator', 'regio'],
  },
});
let noord: Awaited<ReturnType<typeof submitReferral>>;
let zuid: Awaited<ReturnType<typeof submitReferral>>;
let noordRefs: string[];

beforeAll(async () => {
  noord = await submitReferral(service, tokens.linde!);
  zuid = await submitReferral(service, tokens.merenwijk!, {
    ...patientAt('2317 AB'),
    requester: { agb: '01012345', practice: { agb: OTHER_PRACTICE_AGB, name: 'Gezondheidscentrum Merenwijk' } },
  });
  const bundle = (await service.request('GET', `/fhir/Task?focus=ServiceRequest/${noord.serviceRequestId}&_include=Task:focus&_include=Task:patient&_include=Task:requester`, { token: tokens.operator })).body;
  noordRefs = bundle.entry.map((entry: any) => `${entry.resource.resourceType}/${entry.resource.id}`);
});

const missing = async (token: string) => (await service.request('GET', '/fhir/Task/00000000-0000-4000-8000-000000000000', { token })).body;

describe('tenancy is absolute: another tenant’s data answers exactly like data that does not exist', () => {
  test.each([
    ['the other practice', 'merenwijk'],
    ['the other team', 'zuid'],
  ] as const)('%s reads, vreads and lists the history of nothing of a referral', async (_name, who) => {
    const token = tokens[who];
    const notFound = await missing(token);
    for (const ref of noordRefs) {
      for (const path of [`/fhir/${ref}`, `/fhir/${ref}/_history/1`, `/fhir/${ref}/_history`]) {
        const response = await service.request('GET', path, { token });
        expect({ path, status: response.status }).toEqual({ path, status: 404 });
        expect(response.body.issue[0].code).toBe(notFound.issue[0].code);
      }
    }
  });

  test('another team can neither update the Task nor post feedback on it, nor touch its queue', async () => {
    const patch = await service.request('PATCH', `/fhir/Task/${noord.taskId}`, {
      token: tokens.zuid,
      rawBody: '[{"op":"replace","path":"/status","value":"accepted"}]',
      headers: { 'content-type': 'application/json-patch+json' },
    });
    expect(patch.status).toBe(404);
    const put = await service.request('PUT', `/fhir/Task/${noord.taskId}`, { token: tokens.zuid, body: { resourceType: 'Task', id: noord.taskId } });
    expect(put.status).toBe(404);
    const report = await service.request('POST', '/fhir/Communication', {
      token: tokens.zuid,
      body: { resourceType: 'Communication', about: [{ reference: `Task/${noord.taskId}` }], payload: [{ contentString: 'x' }] },
    });
    expect(report.status).toBe(404);
    expect((await service.request('POST', '/queues/leiden-noord/claim', { token: tokens.zuid })).status).toBe(404);
    expect((await service.request('GET', '/queues/leiden-noord', { token: tokens.zuid })).status).toBe(404);
  });

  test('another practice cannot cancel or revoke the referral', async () => {
    expect((await service.request('POST', `/referrals/${noord.referralId}/cancel`, { token: tokens.merenwijk, body: { reason: 'x' } })).status).toBe(404);
    const revoke = await service.request('PATCH', `/fhir/ServiceRequest/${noord.serviceRequestId}`, {
      token: tokens.merenwijk,
      rawBody: '[{"op":"replace","path":"/status","value":"revoked"}]',
      headers: { 'content-type': 'application/json-patch+json' },
    });
    expect(revoke.status).toBe(404);
    expect((await service.request('GET', `/fhir/Task/${noord.taskId}`, { token: tokens.linde })).body.status).toBe('requested');
  });

  test('searches return only the tenant’s own; an operator sees everything', async () => {
    const count = async (token: string, query: string) => (await service.request('GET', query, { token })).body.total;
    expect(await count(tokens.linde!, '/fhir/ServiceRequest?_count=0')).toBe(1);
    expect(await count(tokens.merenwijk!, '/fhir/ServiceRequest?_count=0')).toBe(1);
    expect(await count(tokens.noord!, '/fhir/Task?_count=0')).toBe(1);
    expect(await count(tokens.zuid!, '/fhir/Task?_count=0')).toBe(1);
    expect(await count(tokens.merenwijk!, `/fhir/Task?focus=ServiceRequest/${noord.serviceRequestId}`)).toBe(0);
    expect(await count(tokens.zuid!, '/fhir/Patient?identifier=999990019')).toBe(1);
    expect(await count(tokens.operator!, '/fhir/ServiceRequest?_count=0')).toBe(2);
    expect((await service.request('GET', `/fhir/Task/${zuid.taskId}`, { token: tokens.operator })).status).toBe(200);
  });

  test('a token without the read scope gets 403 on read, also of its own data', async () => {
    const token = await service.token('gp', PRACTICE_AGB, { scope: 'system/ServiceRequest.c' });
    const response = await service.request('GET', `/fhir/Task/${noord.taskId}`, { token });
    expect(response.status).toBe(403);
    expect(response.body.issue[0].code).toBe('forbidden');
  });
});
