import { beforeAll, describe, expect, test } from '@jest/globals';
import { PRACTICE_AGB } from '../fixtures/referral.js';
import { submitReferral } from '../support/referrals.js';
import { withService } from '../support/service.js';

const TEAM = 'leiden-noord';
let referral: Awaited<ReturnType<typeof submitReferral>>;
let patientId: string;

const { service, gp, coach } = await withService({ tokens: { gp: ['gp', PRACTICE_AGB], coach: ['coach', TEAM] } });
beforeAll(async () => {
  referral = await submitReferral(service, gp);
  const task = (await service.request('GET', `/fhir/Task/${referral.taskId}`, { token: coach })).body;
  patientId = task.for.reference.split('/')[1];
});

const scoped = (scope: string) => service.token('coach', TEAM, { scope });
const typesOf = (bundle: { entry?: Array<{ resource: { resourceType: string } }> }) => (bundle.entry ?? []).map((entry) => entry.resource.resourceType);

describe('every disclosed resource is checked against the token’s scopes and the tenancy', () => {
  test('a coach token with only system/Task.rs gets the Task but not the Patient or ServiceRequest through _include', async () => {
    const token = await scoped('system/Task.rs');
    expect((await service.request('GET', `/fhir/Patient/${patientId}`, { token })).status).toBe(403);
    const search = await service.request('GET', `/fhir/Task?focus=ServiceRequest/${referral.serviceRequestId}&_include=Task:patient&_include=Task:focus&_include=Task:requester`, { token });
    expect(search.status).toBe(200);
    expect(typesOf(search.body)).toEqual(['Task']);
    for (const secret of ['999990019', '+31612345678', 'j.vdberg@example.nl']) expect(JSON.stringify(search.body)).not.toContain(secret);
  });

  test('a Patient scope that allows search but not read does not let _include read it', async () => {
    const token = await scoped('system/Task.rs system/Patient.s');
    const search = await service.request('GET', `/fhir/Task?focus=ServiceRequest/${referral.serviceRequestId}&_include=Task:patient`, { token });
    expect(typesOf(search.body)).toEqual(['Task']);
  });

  test.each([
    ['v2 per type', 'system/Task.rs system/Patient.r system/ServiceRequest.r'],
    ['v2 wildcard', 'system/*.rs'],
    ['v1 wildcard read', 'system/*.read'],
  ])('%s scopes that cover the included types disclose them', async (_name, scope) => {
    const token = await scoped(scope);
    const search = await service.request('GET', `/fhir/Task?focus=ServiceRequest/${referral.serviceRequestId}&_include=Task:patient&_include=Task:focus`, { token });
    expect(typesOf(search.body).sort()).toEqual(['Patient', 'ServiceRequest', 'Task']);
  });

  test('read, vread and history need the read scope of the resource’s type; search needs its search scope', async () => {
    const searchOnly = await scoped('system/Task.s');
    for (const path of [`/fhir/Task/${referral.taskId}`, `/fhir/Task/${referral.taskId}/_history/1`, `/fhir/Task/${referral.taskId}/_history`]) {
      expect({ path, status: (await service.request('GET', path, { token: searchOnly })).status }).toEqual({ path, status: 403 });
    }
    expect((await service.request('GET', `/fhir/Task?_count=0`, { token: searchOnly })).status).toBe(200);
    expect((await service.request('GET', `/fhir/Task?_count=0`, { token: await scoped('system/Task.r') })).status).toBe(403);
  });

  test('a claim by a token that cannot read every type of the claim Bundle is refused with 403 before anything is leased', async () => {
    const token = await scoped('system/Task.rus');
    const before = (await service.request('GET', `/queues/${TEAM}`, { token: coach })).body;
    expect(before.waiting).toBeGreaterThan(0);
    const refused = await service.request('POST', `/queues/${TEAM}/claim`, { token });
    expect(refused.status).toBe(403);
    expect(refused.body.resourceType).toBe('OperationOutcome');
    expect(refused.body.issue[0].diagnostics).toContain('system/ServiceRequest.r');
    expect(JSON.stringify(refused.body)).not.toContain(patientId);
    expect((await service.request('GET', `/queues/${TEAM}`, { token: coach })).body).toMatchObject({ waiting: before.waiting, leased: 0 });
    expect((await service.request('GET', `/fhir/Task/${referral.taskId}`, { token: coach })).body.status).toBe('requested');
  });

  test('a claim with the full coach scopes gets the whole Bundle, all of it within the team’s tenancy', async () => {
    const claimed = await service.request('POST', `/queues/${TEAM}/claim`, { token: coach });
    expect(claimed.status).toBe(200);
    expect(typesOf(claimed.body.bundle)).toEqual(['Task', 'ServiceRequest', 'Patient', 'Consent', 'PractitionerRole', 'Practitioner', 'Organization']);
    for (const entry of claimed.body.bundle.entry) {
      const { resourceType, id } = entry.resource;
      expect({ ref: `${resourceType}/${id}`, status: (await service.request('GET', `/fhir/${resourceType}/${id}`, { token: coach })).status }).toEqual({
        ref: `${resourceType}/${id}`,
        status: 200,
      });
    }
    await service.request('POST', `/queues/${TEAM}/leases/${claimed.body.lease.id}/release`, { token: coach });
  });
});
