import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Queue } from 'bullmq';
import { exampleReferral, PRACTICE_AGB } from '../fixtures/referral.js';
import { expectValidFhir } from '../support/fhir-validation.js';
import { withService } from '../support/service.js';

const { service, gp } = await withService({ tokens: { gp: ['gp', PRACTICE_AGB] } });
let queue: Queue;

beforeAll(() => {
  queue = new Queue('team-leiden-noord', { connection: service.redis, prefix: `${service.prefix}:bull` });
});
afterAll(() => queue.close());

const submit = (body: unknown, token = gp) => service.request('POST', '/referrals', { token, body });
const byType = (bundle: any) => Object.fromEntries(bundle.entry.map((entry: any) => [entry.resource.resourceType, entry.resource]));
/** Row versions in the heaps of the resource tables, live and dead: a write rolled back leaves its rows dead. */
const tuplesWritten = async () => {
  await service.db.query('CREATE EXTENSION IF NOT EXISTS pgstattuple SCHEMA public');
  const { rows } = await service.db.query<{ n: string }>(
    `SELECT sum(s.tuple_count + s.dead_tuple_count) AS n FROM unnest(ARRAY['resource', 'resource_version', 'search_index']) AS t(name), public.pgstattuple(t.name::regclass) AS s`,
  );
  return Number(rows[0]!.n);
};
const jobsFor = async (taskId: string) => (await queue.getJobs(['waiting', 'prioritized', 'active', 'completed'])).filter((job) => job?.data.taskId === taskId);

describe('POST /referrals', () => {
  test('a complete referral becomes valid FHIR for the team of the postcode, stored and queued once with ids only', async () => {
    const response = await submit(exampleReferral({ referralId: 'HAPPY-1' }));
    expect(response.status).toBe(201);
    expect(response.headers.get('content-type')).toMatch(/^application\/fhir\+json/);
    expect(response.body).toMatchObject({ resourceType: 'Bundle', type: 'collection' });
    expectValidFhir(response.body);
    const { ServiceRequest: request, Task: task, Patient: patient, Consent: consent, PractitionerRole: role, Practitioner: practitioner, Organization: practice } = byType(response.body);
    expect(response.headers.get('location')).toBe(`http://wor-bridge.test/fhir/ServiceRequest/${request.id}`);

    expect(request).toMatchObject({
      status: 'active',
      intent: 'order',
      priority: 'routine',
      identifier: [{ system: `https://wor-bridge.nl/fhir/NamingSystem/referral/${PRACTICE_AGB}`, value: 'HAPPY-1' }],
      authoredOn: '2026-11-20T10:15:00+01:00',
      subject: { reference: `Patient/${patient.id}` },
      requester: { reference: `PractitionerRole/${role.id}` },
      performer: [{ reference: 'Organization/team-leiden-noord', identifier: { system: 'https://wor-bridge.nl/fhir/NamingSystem/team', value: 'leiden-noord' } }],
      reasonCode: [
        { coding: [{ system: 'http://hl7.org/fhir/sid/icpc-1-nl', code: 'Z86' }] },
        { coding: [{ system: 'http://hl7.org/fhir/sid/icpc-1-nl', code: 'P06', display: 'Slaapstoornis' }] },
        { text: 'Sinds overlijden partner somber, weinig sociale contacten.' },
      ],
      supportingInfo: [{ reference: `Consent/${consent.id}` }],
      note: [{ text: "Liever 's ochtends bellen." }],
    });
    expect(task).toMatchObject({
      status: 'requested',
      intent: 'order',
      focus: { reference: `ServiceRequest/${request.id}` },
      basedOn: [{ reference: `ServiceRequest/${request.id}` }],
      for: { reference: `Patient/${patient.id}` },
      owner: { reference: 'Organization/team-leiden-noord', identifier: { value: 'leiden-noord' } },
    });
    expect(Date.parse(task.restriction.period.end)).toBeGreaterThan(Date.now() + 4 * 86_400_000);
    expect(patient).toMatchObject({
      identifier: [{ system: 'http://fhir.nl/fhir/NamingSystem/bsn', value: '999990019' }],
      name: [{ use: 'official', family: 'van der Berg', given: ['Johanna'] }],
      birthDate: '1948-03-02',
      address: [{ postalCode: '2311 CS', city: 'Leiden', line: ['Breestraat 12A'] }],
    });
    expect(patient.name[0]._family.extension.map((item: any) => item.valueString)).toEqual(['van der', 'Berg']);
    expect(consent).toMatchObject({ status: 'active', patient: { reference: `Patient/${patient.id}` }, provision: { type: 'permit' } });
    expect(practitioner.identifier).toEqual([{ system: 'http://fhir.nl/fhir/NamingSystem/agb-z', value: '01012345' }]);
    expect(practice).toMatchObject({ identifier: [{ value: PRACTICE_AGB }], name: 'Huisartsenpraktijk De Linde' });

    const stored = await service.request('GET', `/fhir/Task/${task.id}`, { token: gp });
    expect(stored.body).toEqual(task);
    const jobs = await jobsFor(task.id);
    expect(jobs).toHaveLength(1);
    expect(jobs[0]!.data).toEqual({ taskId: task.id });
  });

  test('an urgent referral, a postcode without space and the ICPC OID are normalised', async () => {
    const referral = exampleReferral({ referralId: 'HAPPY-2', urgency: 'urgent' });
    referral.patient.address.postalCode = '2311cs';
    (referral.reason.icpc[0] as any).system = 'urn:oid:2.16.840.1.113883.2.4.4.31.1';
    const { ServiceRequest: request, Task: task, Patient: patient } = byType((await submit(referral)).body);
    expect(request.priority).toBe('urgent');
    expect(task.priority).toBe('urgent');
    expect(request.reasonCode[0].coding[0].system).toBe('http://hl7.org/fhir/sid/icpc-1-nl');
    expect(patient.address[0].postalCode).toBe('2311 CS');
    expect((await jobsFor(task.id))[0]!.opts.priority).toBe(1);
  });

  test('the same referral again answers 200 with the same resources and writes nothing', async () => {
    const first = await submit(exampleReferral({ referralId: 'IDEM-1' }));
    const stored = await service.storedRows();
    const written = await tuplesWritten();
    const again = await submit(exampleReferral({ referralId: 'IDEM-1' }));
    expect(again.status).toBe(200);
    expect(again.headers.get('location')).toBe(first.headers.get('location'));
    expect(byType(again.body).ServiceRequest).toEqual(byType(first.body).ServiceRequest);
    expect(await service.storedRows()).toEqual(stored);
    // Not even rows written and rolled back: the repeat is found before anything is written (fewer
    // are possible: PostgreSQL prunes dead rows of earlier updates as it reads their pages).
    expect(await tuplesWritten()).toBeLessThanOrEqual(written);
  });

  test('the same referralId with other content answers 409 and changes nothing', async () => {
    await submit(exampleReferral({ referralId: 'IDEM-2' }));
    const stored = await service.storedRows();
    const conflicting = await submit(exampleReferral({ referralId: 'IDEM-2', urgency: 'urgent' }));
    expect(conflicting.status).toBe(409);
    expect(conflicting.body.issue[0]).toMatchObject({ code: 'conflict', expression: ['referralId'] });
    expect(await service.storedRows()).toEqual(stored);
  });

  test('20 identical submissions in parallel leave exactly one referral and one queued task', async () => {
    const responses = await Promise.all(Array.from({ length: 20 }, () => submit(exampleReferral({ referralId: 'PARALLEL-1' }))));
    expect(responses.filter((response) => response.status === 201)).toHaveLength(1);
    expect(responses.filter((response) => response.status === 200)).toHaveLength(19);
    expect(new Set(responses.map((response) => byType(response.body).ServiceRequest.id)).size).toBe(1);
    const found = await service.request('GET', '/fhir/ServiceRequest?identifier=PARALLEL-1', { token: gp });
    expect(found.body.total).toBe(1);
    const taskId = byType(responses[0]!.body).Task.id;
    expect(await jobsFor(taskId)).toHaveLength(1);
    const tasks = await service.request('GET', `/fhir/Task?focus=ServiceRequest/${byType(responses[0]!.body).ServiceRequest.id}`, { token: gp });
    expect(tasks.body.total).toBe(1);
  });

  test('the same referralId from two practices makes two referrals', async () => {
    const other = await service.token('gp', '01067890');
    const first = await submit(exampleReferral({ referralId: 'SHARED-1' }));
    const second = await submit(
      exampleReferral({ referralId: 'SHARED-1', requester: { agb: '01012345', practice: { agb: '01067890', name: 'Gezondheidscentrum Merenwijk' } } }),
      other,
    );
    expect([first.status, second.status]).toEqual([201, 201]);
    expect(byType(first.body).ServiceRequest.id).not.toBe(byType(second.body).ServiceRequest.id);
  });
});
