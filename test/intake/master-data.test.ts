import { describe, expect, test } from '@jest/globals';
import { exampleReferral, OTHER_PRACTICE_AGB, PRACTICE_AGB } from '../fixtures/referral.js';
import { exampleTransaction } from '../fixtures/fhir-transaction.js';
import { expectValidFhir } from '../support/fhir-validation.js';
import { claimAndAnswer, patientAt, submitReferral } from '../support/referrals.js';
import { withService } from '../support/service.js';

const { service, gp, otherGp, coach, operator } = await withService({
  tokens: { gp: ['gp', PRACTICE_AGB], otherGp: ['gp', OTHER_PRACTICE_AGB], coach: ['coach', 'leiden-noord'], operator: ['operator', 'regio'] },
});

/** Stored ids of a type; the teams' own Organizations (from the directory) left out. */
const stored = async (type: string) =>
  (await service.db.query<{ id: string }>(`SELECT id FROM resource WHERE resource_type = $1 AND id NOT LIKE 'team-%' ORDER BY id`, [type])).rows.map((row) => row.id);
const referralsOf = (serviceRequestId: string) => service.request('GET', `/fhir/ServiceRequest/${serviceRequestId}`, { token: operator }).then((response) => response.body);
const OTHER_PRACTICE = { requester: { agb: '01099991', name: 'B. de Vries', practice: { agb: OTHER_PRACTICE_AGB, name: 'Gezondheidscentrum Merenwijk' } } };

describe('one referral, one key: the practice AGB and its own referral id, whatever the channel', () => {
  test('HIS-2026-000123 posted to /referrals and then as a FHIR transaction is one referral: the transaction answers as a replay', async () => {
    const rest = await service.request('POST', '/referrals', { token: gp, body: exampleReferral({ referralId: 'HIS-2026-000123' }) });
    expect(rest.status).toBe(201);
    const fhir = await service.request('POST', '/fhir', { token: gp, body: exampleTransaction('HIS-2026-000123') });
    expect(fhir.status).toBe(200);
    expect(fhir.body.entry.map((entry: any) => entry.response.status)).toEqual(Array(6).fill('200 OK'));
    const restRequest = rest.body.entry.find((entry: any) => entry.resource.resourceType === 'ServiceRequest').resource;
    expect(fhir.body.entry[0].resource.id).toBe(restRequest.id);
    expectValidFhir(fhir.body);
    const found = await service.request('GET', '/fhir/ServiceRequest?identifier=HIS-2026-000123', { token: gp });
    expect(found.body.total).toBe(1);
    expect((await service.request('GET', `/fhir/Task?focus=ServiceRequest/${restRequest.id}`, { token: gp })).body.total).toBe(1);
    expect((await service.request('GET', '/queues/leiden-noord', { token: coach })).body.waiting).toBe(1);
    // The first transaction and the first validation compile the profiles: slow on a busy machine.
  }, 120_000);

  test('the other way round, with other content, the HIS REST API answers 409 and nothing new is stored', async () => {
    expect((await service.request('POST', '/fhir', { token: gp, body: exampleTransaction('HIS-2026-000124') })).status).toBe(200);
    const before = await stored('ServiceRequest');
    const other = await service.request('POST', '/referrals', { token: gp, body: exampleReferral({ referralId: 'HIS-2026-000124', note: 'Andere inhoud' }) });
    expect(other.status).toBe(409);
    expect(other.body.issue[0].expression).toEqual(['referralId']);
    expect(await stored('ServiceRequest')).toEqual(before);
  });

  test('a FHIR transaction reusing a referral id with other content answers 409 pointing at its ServiceRequest identifier', async () => {
    await service.request('POST', '/referrals', { token: gp, body: exampleReferral({ referralId: 'HIS-2026-000125' }) });
    const transaction = exampleTransaction('HIS-2026-000125');
    transaction.entry[0].resource.note = [{ text: 'Andere inhoud' }];
    const response = await service.request('POST', '/fhir', { token: gp, body: transaction });
    expect(response.status).toBe(409);
    expect(response.body.issue[0].expression).toEqual(['Bundle.entry[0].resource.identifier']);
  });

  test('another practice may use the same referral id: its key is its own', async () => {
    const response = await service.request('POST', '/referrals', { token: otherGp, body: exampleReferral({ referralId: 'HIS-2026-000123', ...OTHER_PRACTICE }) });
    expect(response.status).toBe(201);
  });
});

describe('master data once', () => {
  test('referrals of one practitioner for one patient share one Organization, Practitioner, PractitionerRole and Patient', async () => {
    const first = await submitReferral(service, gp);
    const second = await submitReferral(service, gp);
    const [a, b] = [await referralsOf(first.serviceRequestId), await referralsOf(second.serviceRequestId)];
    expect(b.subject).toEqual(a.subject);
    expect(b.requester).toEqual(a.requester);
    const role = (await service.request('GET', `/fhir/${a.requester.reference}`, { token: gp })).body;
    expectValidFhir(role);
    // Both practices of this file: one of each per practice, practitioner and their role; this practice's patient once.
    expect(await stored('Organization')).toHaveLength(2);
    expect(await stored('Practitioner')).toHaveLength(2);
    expect(await stored('PractitionerRole')).toHaveLength(2);
    const patients = await service.request('GET', '/fhir/Patient?identifier=http://fhir.nl/fhir/NamingSystem/bsn|999990019', { token: gp });
    expect(patients.body.total).toBe(1);
    // A second Consent per referral: the consent is part of each referral, as sent.
    expect(a.supportingInfo).not.toEqual(b.supportingInfo);
  });

  test('a later referral with a new address updates the Patient: a new version, the old one kept in its history; an older one changes nothing', async () => {
    const first = await submitReferral(service, gp);
    const patientRef = (await referralsOf(first.serviceRequestId)).subject.reference;
    const before = (await service.request('GET', `/fhir/${patientRef}`, { token: gp })).body;
    const moved = exampleReferral().patient;
    await submitReferral(service, gp, { patient: { ...moved, address: { ...moved.address, street: 'Haarlemmerstraat', houseNumber: '40' } } });
    const after = (await service.request('GET', `/fhir/${patientRef}`, { token: gp })).body;
    expect(Number(after.meta.versionId)).toBe(Number(before.meta.versionId) + 1);
    expect(after.address[0].line).toEqual(['Haarlemmerstraat 40A']);
    expectValidFhir(after);
    const history = (await service.request('GET', `/fhir/${patientRef}/_history`, { token: gp })).body;
    expect(history.entry.map((entry: any) => entry.resource.address[0].line[0]).slice(0, 2)).toEqual(['Haarlemmerstraat 40A', 'Breestraat 12A']);
    // The same details again write no new version.
    await submitReferral(service, gp, { patient: { ...moved, address: { ...moved.address, street: 'Haarlemmerstraat', houseNumber: '40' } } });
    expect((await service.request('GET', `/fhir/${patientRef}`, { token: gp })).body.meta.versionId).toBe(after.meta.versionId);
    // A referral written before those (say a portal document converted late) leaves the newer details alone.
    await submitReferral(service, gp, { authoredOn: '2026-11-19T09:00:00+01:00', patient: moved });
    const kept = (await service.request('GET', `/fhir/${patientRef}`, { token: gp })).body;
    expect({ version: kept.meta.versionId, line: kept.address[0].line }).toEqual({ version: after.meta.versionId, line: ['Haarlemmerstraat 40A'] });
  });

  test('the same BSN at another practice is another Patient, in that tenancy only', async () => {
    const mine = await submitReferral(service, gp);
    const theirs = await submitReferral(service, otherGp, OTHER_PRACTICE);
    const [a, b] = [await referralsOf(mine.serviceRequestId), await referralsOf(theirs.serviceRequestId)];
    expect(b.subject.reference).not.toBe(a.subject.reference);
    expect((await service.request('GET', `/fhir/${a.subject.reference}`, { token: otherGp })).status).toBe(404);
    expect((await service.request('GET', `/fhir/${b.subject.reference}`, { token: gp })).status).toBe(404);
    // The same patient referred to another team is that team's Patient, not a shared one.
    const south = await submitReferral(service, gp, patientAt('2317 AB'));
    expect((await referralsOf(south.serviceRequestId)).subject.reference).not.toBe(a.subject.reference);
  });

  test('two concurrent first referrals for a new patient create one Patient', async () => {
    const patient = { ...exampleReferral().patient, bsn: '999991772' };
    const results = await Promise.all([1, 2, 3, 4].map(() => submitReferral(service, gp, { patient })));
    const subjects = new Set(await Promise.all(results.map(async (result) => (await referralsOf(result.serviceRequestId)).subject.reference)));
    expect(subjects.size).toBe(1);
    const found = await service.request('GET', '/fhir/Patient?identifier=999991772', { token: operator });
    expect(found.body.total).toBe(1);
    const { rows } = await service.db.query('SELECT version FROM resource_history WHERE resource_type = $1 AND id = $2', ['Patient', [...subjects][0]!.split('/')[1]]);
    expect(rows).toHaveLength(1);
  });

  test('a practice finds the feedback of all its referrals by its one PractitionerRole', async () => {
    const since = new Date().toISOString();
    const referrals = [await submitReferral(service, gp), await submitReferral(service, gp, patientAt('2317 AB'))];
    await claimAndAnswer(service, coach, referrals[0]!.taskId);
    await claimAndAnswer(service, await service.token('coach', 'leiden-zuid'), referrals[1]!.taskId, { status: 'accepted' }, {}, 'leiden-zuid');
    const role = (await referralsOf(referrals[0]!.serviceRequestId)).requester.reference;
    expect((await referralsOf(referrals[1]!.serviceRequestId)).requester.reference).toBe(role);
    // Every letter of this practice (the queue clean-up rejected earlier referrals too) is found by its one role.
    const letters = await service.request('GET', `/fhir/Communication?recipient=${role}&_lastUpdated=gt${since}&_count=100`, { token: gp });
    const all = await service.request('GET', `/fhir/Communication?_lastUpdated=gt${since}&_count=0`, { token: gp });
    expect(letters.body.total).toBe(all.body.total);
    const basedOn = letters.body.entry.map((entry: any) => entry.resource.basedOn[0].reference);
    for (const { serviceRequestId } of referrals) expect(basedOn).toContain(`ServiceRequest/${serviceRequestId}`);
    // The team of one referral still sees nothing of the other's.
    expect((await service.request('GET', `/fhir/Task/${referrals[1]!.taskId}`, { token: coach })).status).toBe(404);
  });
});
