import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, test } from '@jest/globals';
import type { Communication } from 'fhir/r4.js';
import { OTHER_PRACTICE_AGB, PRACTICE_AGB, exampleReferral } from '../fixtures/referral.js';
import { expectValidFhir } from '../support/fhir-validation.js';
import { submitReferral } from '../support/referrals.js';
import { withService } from '../support/service.js';

const BSN_SYSTEM = 'http://fhir.nl/fhir/NamingSystem/bsn';
const BASE = 'http://wor-bridge.test';
const { service, gp, otherGp } = await withService({ tokens: { gp: ['gp', PRACTICE_AGB], otherGp: ['gp', OTHER_PRACTICE_AGB] } });
let first: Awaited<ReturnType<typeof submitReferral>>;
let second: Awaited<ReturnType<typeof submitReferral>>;
let otherBsn: Awaited<ReturnType<typeof submitReferral>>;
let otherPractice: Awaited<ReturnType<typeof submitReferral>>;

beforeAll(async () => {
  first = await submitReferral(service, gp);
  second = await submitReferral(service, gp);
  otherBsn = await submitReferral(service, gp, { patient: { ...exampleReferral().patient, bsn: '999990020' } });
  const practice = { ...exampleReferral().requester.practice, agb: OTHER_PRACTICE_AGB };
  otherPractice = await submitReferral(service, otherGp, { requester: { ...exampleReferral().requester, practice } });
});

const get = (path: string, token = gp) => service.request('GET', path, { token });
const ids = (bundle: { entry?: Array<{ resource: { id: string }; search?: { mode: string } }> }, mode = 'match') =>
  (bundle.entry ?? []).filter((entry) => entry.search?.mode === mode).map((entry) => entry.resource.id);
const path = (url: string) => url.replace(BASE, '');

/** A Communication written straight into the store, in the practice's tenancy. */
async function storedLetter(identifier: Communication['identifier']): Promise<string> {
  const id = randomUUID();
  await service.app.services.store.commit({ writes: [{ resource: { resourceType: 'Communication', id, status: 'completed', identifier } as Communication, acl: [`gp:${PRACTICE_AGB}`] }] });
  return id;
}

describe('search as FHIR clients expect', () => {
  test('_id finds exactly the named resources of the caller; another practice’s id finds nothing; a malformed id is refused', async () => {
    const both = await get(`/fhir/ServiceRequest?_id=${first.serviceRequestId},${second.serviceRequestId}`);
    expect(both.status).toBe(200);
    expect(ids(both.body).sort()).toEqual([first.serviceRequestId, second.serviceRequestId].sort());
    expect(both.body.total).toBe(2);
    const combined = await get(`/fhir/ServiceRequest?_id=${first.serviceRequestId}&status=active`);
    expect(ids(combined.body)).toEqual([first.serviceRequestId]);
    expect((await get(`/fhir/ServiceRequest?_id=${otherPractice.serviceRequestId}`)).body.total).toBe(0);
    const malformed = await get('/fhir/ServiceRequest?_id=a_b');
    expect(malformed.status).toBe(400);
    expect(malformed.body.issue[0]).toMatchObject({ code: 'invalid', expression: ['_id'] });
    expectValidFhir(both.body);
  });

  test('Task?requester finds the practitioner role’s Tasks, by Type/id or bare id', async () => {
    const task = (await get(`/fhir/Task/${first.taskId}`)).body;
    const role = task.requester.reference;
    for (const value of [role, role.split('/')[1]]) {
      const found = await get(`/fhir/Task?requester=${value}&_id=${first.taskId}`);
      expect({ value, found: ids(found.body) }).toEqual({ value, found: [first.taskId] });
    }
    expect((await get('/fhir/Task?requester=PractitionerRole/nobody')).body.total).toBe(0);
  });

  test('identifier=system| finds every identifier in that system, |value only identifiers without a system', async () => {
    const request = (await get(`/fhir/ServiceRequest/${first.serviceRequestId}`)).body;
    const { system, value } = request.identifier[0];
    const inSystem = await get(`/fhir/ServiceRequest?identifier=${encodeURIComponent(`${system}|`)}&_count=100`);
    expect(ids(inSystem.body)).toEqual(expect.arrayContaining([first.serviceRequestId, second.serviceRequestId, otherBsn.serviceRequestId]));
    expect(ids(inSystem.body)).not.toContain(otherPractice.serviceRequestId);
    // The referral's identifier has a system: `|value` (no system) must not find it, `value` (any system) must.
    expect((await get(`/fhir/ServiceRequest?identifier=${encodeURIComponent(`|${value}`)}`)).body.total).toBe(0);
    expect(ids((await get(`/fhir/ServiceRequest?identifier=${encodeURIComponent(value)}`)).body)).toEqual([first.serviceRequestId]);

    const bare = randomUUID();
    const withoutSystem = await storedLetter([{ value: bare }]);
    const withSystem = await storedLetter([{ system: 'https://wor-bridge.nl/fhir/NamingSystem/test-letter', value: bare }]);
    expect(ids((await get(`/fhir/Communication?identifier=${encodeURIComponent(`|${bare}`)}`)).body)).toEqual([withoutSystem]);
    expect(ids((await get(`/fhir/Communication?identifier=${bare}`)).body).sort()).toEqual([withoutSystem, withSystem].sort());
    expect(ids((await get(`/fhir/Communication?identifier=${encodeURIComponent(`https://wor-bridge.nl/fhir/NamingSystem/test-letter|${bare}`)}`)).body)).toEqual([withSystem]);
  });

  test('POST [type]/_search with a form body answers what GET answers, with GET paging links; another body type is refused', async () => {
    const query = `status=active&_count=2&_sort=-_lastUpdated`;
    const viaGet = await get(`/fhir/ServiceRequest?${query}`);
    const viaPost = await service.request('POST', '/fhir/ServiceRequest/_search', {
      token: gp,
      rawBody: query,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(viaPost.status).toBe(200);
    expect(ids(viaPost.body)).toEqual(ids(viaGet.body));
    expect(viaPost.body.total).toBe(viaGet.body.total);
    const next = viaPost.body.link.find((link: { relation: string }) => link.relation === 'next');
    expect(next.url).toMatch(/^http:\/\/wor-bridge\.test\/fhir\/ServiceRequest\?/);
    expect((await get(path(next.url))).status).toBe(200);

    // Parameters may also sit in the URL; they add up.
    const mixed = await service.request('POST', `/fhir/ServiceRequest/_search?_id=${first.serviceRequestId}`, {
      token: gp,
      rawBody: 'status=active',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(ids(mixed.body)).toEqual([first.serviceRequestId]);
    const json = await service.request('POST', '/fhir/ServiceRequest/_search', { token: gp, body: { status: 'active' } });
    expect(json.status).toBe(415);
    expect(json.body.resourceType).toBe('OperationOutcome');
    const unsupported = await service.request('POST', '/fhir/ServiceRequest/_search', {
      token: gp,
      rawBody: 'colour=blue',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(unsupported.status).toBe(400);
    expect(unsupported.body.issue[0]).toMatchObject({ code: 'not-supported', expression: ['colour'] });
  });

  test('_sort=_lastUpdated pages oldest first and -_lastUpdated newest first; next links keep the order; a cursor is refused in the other order', async () => {
    const walk = async (sort: string) => {
      const seen: Array<{ id: string; lastUpdated: string }> = [];
      let url = `/fhir/ServiceRequest?status=active&_sort=${sort}&_count=1`;
      let cursorUrl: string | undefined;
      for (;;) {
        const page = await get(url);
        expect(page.status).toBe(200);
        seen.push(...page.body.entry.map((entry: any) => ({ id: entry.resource.id, lastUpdated: entry.resource.meta.lastUpdated })));
        const next = page.body.link.find((link: { relation: string }) => link.relation === 'next');
        if (!next) break;
        url = path(next.url);
        cursorUrl ??= url;
      }
      return { seen, cursorUrl: cursorUrl! };
    };
    const ascending = await walk('_lastUpdated');
    const descending = await walk('-_lastUpdated');
    expect(ascending.seen.length).toBe(3);
    expect(new Set(ascending.seen.map((row) => row.id)).size).toBe(3);
    const times = ascending.seen.map((row) => row.lastUpdated);
    expect(times).toEqual([...times].sort());
    expect(descending.seen.map((row) => row.id)).toEqual(ascending.seen.map((row) => row.id).reverse());

    const swapped = ascending.cursorUrl.replace('_sort=_lastUpdated', '_sort=-_lastUpdated');
    const refused = await get(swapped);
    expect(refused.status).toBe(400);
    expect(refused.body.issue[0]).toMatchObject({ code: 'invalid', expression: ['_cursor'] });
    const otherSort = await get('/fhir/ServiceRequest?_sort=authored');
    expect(otherSort.status).toBe(400);
    expect(otherSort.body.issue[0]).toMatchObject({ code: 'not-supported', expression: ['_sort'] });
  });

  test('a Gravity-style poller (_lastUpdated=gt & _sort=_lastUpdated) gets what changed since, oldest first', async () => {
    const since = new Date().toISOString();
    const later = await submitReferral(service, gp);
    const latest = await submitReferral(service, gp);
    const polled = await get(`/fhir/ServiceRequest?_lastUpdated=gt${since}&_sort=_lastUpdated`);
    expect(ids(polled.body)).toEqual([later.serviceRequestId, latest.serviceRequestId]);
  });
});

describe('the BSN chain ServiceRequest?patient.identifier=', () => {
  const bsn = (value: string) => encodeURIComponent(`${BSN_SYSTEM}|${value}`);

  test('finds the practice’s referrals of that BSN only: not another BSN, not another practice’s; and is audited', async () => {
    const found = await get(`/fhir/ServiceRequest?patient.identifier=${bsn('999990019')}&_count=100`);
    expect(found.status).toBe(200);
    expect(ids(found.body)).toEqual(expect.arrayContaining([first.serviceRequestId, second.serviceRequestId]));
    expect(ids(found.body)).not.toContain(otherBsn.serviceRequestId);
    expect(ids(found.body)).not.toContain(otherPractice.serviceRequestId);
    expect(ids((await get(`/fhir/ServiceRequest?patient.identifier=${bsn('999990020')}`)).body)).toEqual([otherBsn.serviceRequestId]);
    expect(ids((await get(`/fhir/ServiceRequest?patient.identifier=${bsn('999990019')}`, otherGp)).body)).toEqual([otherPractice.serviceRequestId]);
    expect((await get(`/fhir/ServiceRequest?patient.identifier=${bsn('999991772')}`)).body.total).toBe(0);
    expectValidFhir(found.body);

    const subject = found.body.entry[0].resource.subject.reference;
    const operator = await service.token('operator', 'regio-leiden');
    const audit = (await service.request('GET', `/operator/audit?patient=${subject}`, { token: operator })).body;
    const searches = audit.entry.map((entry: any) => entry.resource).filter((event: any) => event.subtype[0].code === 'search-type');
    expect(searches.some((event: any) => event.outcomeDesc === 'GET /fhir/:type 200')).toBe(true);
  });

  test('a token that may not search Patients cannot search through the chain; a chain that is not offered is refused', async () => {
    const token = await service.token('gp', PRACTICE_AGB, { scope: 'system/ServiceRequest.rs' });
    const refused = await get(`/fhir/ServiceRequest?patient.identifier=${bsn('999990019')}`, token);
    expect(refused.status).toBe(403);
    for (const name of ['patient.name', 'requester.identifier', 'patient.identifier.value']) {
      const response = await get(`/fhir/ServiceRequest?${name}=x`);
      expect({ name, status: response.status }).toEqual({ name, status: 400 });
      expect(response.body.issue[0]).toMatchObject({ code: 'not-supported', expression: [name] });
    }
  });

  test('the chain through POST _search keeps the BSN out of the URL and answers the same', async () => {
    const viaPost = await service.request('POST', '/fhir/ServiceRequest/_search', {
      token: gp,
      rawBody: `patient.identifier=${bsn('999990020')}`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(ids(viaPost.body)).toEqual([otherBsn.serviceRequestId]);
  });
});

describe('_revinclude', () => {
  test('ServiceRequest?_revinclude=Communication:based-on brings the letters about each referral, in the caller’s tenancy', async () => {
    const letter = randomUUID();
    await service.app.services.store.commit({
      writes: [
        {
          resource: { resourceType: 'Communication', id: letter, status: 'completed', basedOn: [{ reference: `ServiceRequest/${first.serviceRequestId}` }] } as Communication,
          acl: [`gp:${PRACTICE_AGB}`],
        },
      ],
    });
    const response = await get(`/fhir/ServiceRequest?_id=${first.serviceRequestId},${otherPractice.serviceRequestId}&_revinclude=Communication:based-on`);
    expect(response.status).toBe(200);
    expect(ids(response.body)).toEqual([first.serviceRequestId]);
    expect(ids(response.body, 'include')).toContain(letter);
    expect(response.body.link[0].url).toContain('_revinclude=Communication%3Abased-on');
    const unsupported = await get(`/fhir/ServiceRequest?_revinclude=Communication:recipient`);
    expect(unsupported.status).toBe(400);
    expect(unsupported.body.issue[0]).toMatchObject({ code: 'not-supported', expression: ['_revinclude'] });
    const noCommunicationSearch = await service.token('gp', PRACTICE_AGB, { scope: 'system/ServiceRequest.rs' });
    expect((await get(`/fhir/ServiceRequest?_revinclude=Communication:based-on`, noCommunicationSearch)).status).toBe(403);
  });

  test('the CapabilityStatement lists exactly the search features offered', async () => {
    const metadata = (await service.request('GET', '/fhir/metadata')).body;
    const serviceRequest = metadata.rest[0].resource.find((resource: { type: string }) => resource.type === 'ServiceRequest');
    expect(serviceRequest.searchRevInclude).toContain('Communication:based-on');
    expect(serviceRequest.searchParam.map((param: { name: string }) => param.name)).toEqual(expect.arrayContaining(['_id', '_sort', '_lastUpdated', 'identifier', 'patient']));
    expect(serviceRequest.searchParam.find((param: { name: string }) => param.name === 'patient').documentation).toContain('patient.identifier');
    const task = metadata.rest[0].resource.find((resource: { type: string }) => resource.type === 'Task');
    expect(task.searchParam.map((param: { name: string }) => param.name)).toContain('requester');
  });
});
