import { beforeAll, describe, expect, test } from '@jest/globals';
import { PRACTICE_AGB } from '../fixtures/referral.js';
import { expectValidFhir } from '../support/fhir-validation.js';
import { submitReferral } from '../support/referrals.js';
import { withService } from '../support/service.js';

let first: Awaited<ReturnType<typeof submitReferral>>;

const { service, gp, coach } = await withService({ tokens: { gp: ['gp', PRACTICE_AGB], coach: ['coach', 'leiden-noord'] } });
beforeAll(async () => {
  first = await submitReferral(service, gp);
  for (let i = 0; i < 24; i += 1) await submitReferral(service, gp);
});

const get = (path: string, token = gp, headers: Record<string, string> = {}) => service.request('GET', path, { token, headers });

describe('the FHIR REST API', () => {
  test('read sends the resource with ETag and Last-Modified', async () => {
    const response = await get(`/fhir/ServiceRequest/${first.serviceRequestId}`);
    expect(response.status).toBe(200);
    expect(response.headers.get('etag')).toBe('W/"1"');
    expect(Date.parse(response.headers.get('last-modified')!)).toBeGreaterThan(0);
    expectValidFhir(response.body);
  });

  test('a change makes a new version; vread and _history keep the old one', async () => {
    const { referralId, taskId } = await submitReferral(service, gp);
    await service.request('POST', `/referrals/${referralId}/cancel`, { token: gp, body: { reason: 'Dubbel' } });
    expect((await get(`/fhir/Task/${taskId}`)).headers.get('etag')).toBe('W/"2"');
    const old = await get(`/fhir/Task/${taskId}/_history/1`);
    expect(old.body.status).toBe('requested');
    const history = await get(`/fhir/Task/${taskId}/_history`);
    expect(history.body).toMatchObject({ type: 'history', total: 2 });
    expect(history.body.entry.map((entry: any) => entry.resource.meta.versionId)).toEqual(['2', '1']);
    expect((await get(`/fhir/Task/${taskId}/_history/3`)).status).toBe(404);
    expectValidFhir(history.body);
  });

  test('search pages through 25 referrals with total and working next links; _count is capped at 100', async () => {
    const page = await get('/fhir/ServiceRequest?status=active&_count=10');
    expect(page.body.total).toBeGreaterThanOrEqual(25);
    expect(page.body.entry).toHaveLength(10);
    const next = page.body.link.find((link: any) => link.relation === 'next').url.replace('http://wor-bridge.test', '');
    const second = await get(next);
    expect(second.body.entry).toHaveLength(10);
    const firstIds = new Set(page.body.entry.map((entry: any) => entry.resource.id));
    expect(second.body.entry.some((entry: any) => firstIds.has(entry.resource.id))).toBe(false);
    const capped = await get('/fhir/ServiceRequest?_count=1000');
    expect(capped.body.link[0].url).toContain('_count=100');
    expectValidFhir(page.body);
  });

  test('search by every parameter finds the referral', async () => {
    const task = (await get(`/fhir/Task/${first.taskId}`)).body;
    const request = (await get(`/fhir/ServiceRequest/${first.serviceRequestId}`)).body;
    const queries = [
      `/fhir/Task?owner=Organization/team-leiden-noord&focus=ServiceRequest/${first.serviceRequestId}`,
      `/fhir/Task?status=requested,received&based-on=${first.serviceRequestId}`,
      `/fhir/Task?patient=${task.for.reference}`,
      `/fhir/ServiceRequest?identifier=${encodeURIComponent(`${request.identifier[0].system}|${first.referralId}`)}`,
      `/fhir/ServiceRequest?identifier=${first.referralId}`,
      `/fhir/ServiceRequest?patient=${request.subject.reference}&requester=${request.requester.reference}`,
      `/fhir/Patient?identifier=${encodeURIComponent('http://fhir.nl/fhir/NamingSystem/bsn|999990019')}&_count=100`,
    ];
    for (const query of queries) {
      const response = await get(query);
      expect({ query, status: response.status }).toEqual({ query, status: 200 });
      expect({ query, found: response.body.total >= 1 }).toEqual({ query, found: true });
    }
  });

  test('_include brings the ServiceRequest of each Task', async () => {
    const response = await get(`/fhir/Task?focus=ServiceRequest/${first.serviceRequestId}&_include=Task:focus&_include=Task:patient`, coach);
    const modes = response.body.entry.map((entry: any) => [entry.search.mode, entry.resource.resourceType]);
    expect(modes).toEqual([['match', 'Task'], ['include', 'ServiceRequest'], ['include', 'Patient']]);
  });

  test('_lastUpdated=gt finds only what changed since', async () => {
    const since = new Date().toISOString();
    const { serviceRequestId } = await submitReferral(service, gp);
    const response = await get(`/fhir/ServiceRequest?_lastUpdated=gt${since}`);
    expect(response.body.entry.map((entry: any) => entry.resource.id)).toEqual([serviceRequestId]);
    expect((await get('/fhir/ServiceRequest?_lastUpdated=gtnot-a-date')).status).toBe(400);
  });

  test('an unsupported parameter is reported, not ignored; leniently as an outcome entry', async () => {
    const strict = await get('/fhir/Task?colour=blue');
    expect(strict.status).toBe(400);
    expect(strict.body.issue[0]).toMatchObject({ code: 'not-supported', expression: ['colour'] });
    const lenient = await get('/fhir/Task?colour=blue&_count=1', gp, { prefer: 'handling=lenient' });
    expect(lenient.status).toBe(200);
    expect(lenient.body.entry.at(-1)).toMatchObject({ search: { mode: 'outcome' }, resource: { resourceType: 'OperationOutcome' } });
    expect((await get('/fhir/Task?_sort=status')).status).toBe(400);
    expect((await get('/fhir/Task?_include=Task:nothing')).status).toBe(400);
  });

  test('unknown types and ids answer 404 with an OperationOutcome', async () => {
    expect((await get('/fhir/Medication/1')).status).toBe(404);
    expect((await get('/fhir/Task/does-not-exist')).body.issue[0].code).toBe('not-found');
  });

  test('the service serves its own profiles and code systems read-only', async () => {
    const profile = await get('/fhir/StructureDefinition/wor-task', coach);
    expect(profile.body).toMatchObject({ resourceType: 'StructureDefinition', url: 'https://wor-bridge.nl/fhir/StructureDefinition/wor-task' });
    const byUrl = await get('/fhir/StructureDefinition?url=https://wor-bridge.nl/fhir/StructureDefinition/wor-task', coach);
    expect(byUrl.body.entry.map((entry: any) => entry.resource.id)).toEqual(['wor-task']);
    expect((await get('/fhir/StructureDefinition?_count=1', coach)).status).toBe(400);
    const arrangements = await get('/fhir/CodeSystem/wor-arrangement', coach);
    expect(arrangements.body.concept.map((concept: any) => concept.code)).toEqual(['positief-denken', 'zingeving', 'bewust-leven', 'interactie', 'gezonde-leefstijl', 'geluk-delen']);
  });
});
