import { beforeAll, describe, expect, test } from '@jest/globals';
import { PRACTICE_AGB } from '../fixtures/referral.js';
import { expectValidFhir } from '../support/fhir-validation.js';
import { claimAndAnswer, submitReferral } from '../support/referrals.js';
import { withService } from '../support/service.js';
import { loadProfiles } from '../../src/fhir/profile-validator.js';

const TEAM = 'leiden-noord';
const FEEDBACK_KIND = 'https://wor-bridge.nl/fhir/CodeSystem/wor-feedback-kind';

// The validator's definitions take seconds to load on a busy machine: before the scenarios' clocks start.
beforeAll(() => void loadProfiles(), 120_000);
const { service, gp, coach } = await withService({ tokens: { gp: ['gp', PRACTICE_AGB], coach: ['coach', TEAM] } });

const claimAndAck = (taskId: string, status: 'accepted' | 'rejected', statusReason?: string) =>
  claimAndAnswer(service, coach, taskId, { status, ...(statusReason ? { statusReason } : {}) });

async function feedbackFor(serviceRequestId: string, token = gp) {
  const response = await service.request('GET', `/fhir/Communication?based-on=ServiceRequest/${serviceRequestId}`, { token });
  expect(response.status).toBe(200);
  return (response.body.entry ?? []).map((entry: { resource: any }) => entry.resource);
}

const kinds = (communications: any[]) => communications.map((communication) => communication.category[0].coding[0].code).sort();

describe('feedback to the GP', () => {
  test('an accepted referral gives the GP one Communication with a letter that stands on its own', async () => {
    const { taskId, serviceRequestId } = await submitReferral(service, gp);
    await claimAndAck(taskId, 'accepted');
    const [letter, ...others] = await feedbackFor(serviceRequestId);
    expect(others).toHaveLength(0);
    expect(letter).toMatchObject({
      resourceType: 'Communication',
      status: 'completed',
      identifier: [{ system: 'https://wor-bridge.nl/fhir/NamingSystem/communication', value: `${taskId}/accepted` }],
      category: [{ coding: [{ system: FEEDBACK_KIND, code: 'accepted' }] }],
      basedOn: [{ reference: `ServiceRequest/${serviceRequestId}` }],
      about: [{ reference: `Task/${taskId}` }],
      sender: { identifier: { value: TEAM } },
    });
    expect(letter.subject.reference).toMatch(/^Patient\//);
    expect(letter.recipient[0].reference).toMatch(/^PractitionerRole\//);
    const text: string = letter.payload[0].contentString;
    expect(text).toContain('Verwijzing aangenomen');
    expect(text).toContain('Johanna van der Berg, geboren 02-03-1948');
    expect(text).toContain('uw kenmerk HIS-T-');
    expect(text).toContain('Sociaal Wijkteam Leiden Noord heeft uw verwijzing aangenomen');
  });

  test('a rejection carries the reason as text and as reasonCode', async () => {
    const { taskId, serviceRequestId } = await submitReferral(service, gp);
    await claimAndAck(taskId, 'rejected', 'Patiënt woont buiten ons werkgebied');
    const [letter] = await feedbackFor(serviceRequestId);
    expect(letter.category[0].coding[0].code).toBe('rejected');
    expect(letter.reasonCode).toEqual([{ text: 'Patiënt woont buiten ons werkgebied' }]);
    expect(letter.payload[0].contentString).toContain('Reden: Patiënt woont buiten ons werkgebied.');
  });

  test('completed and failed trajectories are reported, each once, however often the Task is written', async () => {
    const first = await submitReferral(service, gp);
    await claimAndAck(first.taskId, 'accepted');
    const patch = (taskId: string, operations: unknown) =>
      service.request('PATCH', `/fhir/Task/${taskId}`, { token: coach, rawBody: JSON.stringify(operations), headers: { 'content-type': 'application/json-patch+json' } });
    await patch(first.taskId, [{ op: 'replace', path: '/status', value: 'in-progress' }]);
    await patch(first.taskId, [{ op: 'replace', path: '/status', value: 'completed' }]);
    await patch(first.taskId, [{ op: 'add', path: '/note', value: [{ text: 'nazorg' }] }]);
    expect(kinds(await feedbackFor(first.serviceRequestId))).toEqual(['accepted', 'completed']);

    const second = await submitReferral(service, gp);
    await claimAndAck(second.taskId, 'accepted');
    await patch(second.taskId, [{ op: 'replace', path: '/status', value: 'failed' }, { op: 'add', path: '/statusReason', value: { text: 'Patiënt niet bereikt' } }]);
    expect(kinds(await feedbackFor(second.serviceRequestId))).toEqual(['accepted', 'failed']);
  });

  test('a coach system posts an intake report with the chosen arrangements; the GP reads it, another practice cannot', async () => {
    const { taskId, serviceRequestId } = await submitReferral(service, gp);
    await claimAndAck(taskId, 'accepted');
    const report = {
      resourceType: 'Communication',
      identifier: [{ value: 'intake-1' }],
      about: [{ reference: `Task/${taskId}` }],
      payload: [{ contentString: 'Intakegesprek gehouden; mevrouw gaat naar de wandelgroep en het taalcafé.' }],
      extension: [
        {
          url: 'https://wor-bridge.nl/fhir/StructureDefinition/wor-arrangement',
          valueCodeableConcept: { coding: [{ system: 'https://wor-bridge.nl/fhir/CodeSystem/wor-arrangement', code: 'interactie' }] },
        },
      ],
    };
    const created = await service.request('POST', '/fhir/Communication', { token: coach, body: report });
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe(`http://wor-bridge.test/fhir/Communication/${created.body.id}/_history/1`);
    expect(created.body).toMatchObject({ category: [{ coding: [{ code: 'intake-report' }] }], basedOn: [{ reference: `ServiceRequest/${serviceRequestId}` }] });
    expect(created.body.identifier[0]).toEqual({ value: 'intake-1' });
    expectValidFhir(created.body);
    const again = await service.request('POST', '/fhir/Communication', { token: coach, body: report });
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(created.body.id);
    expect(kinds(await feedbackFor(serviceRequestId))).toEqual(['accepted', 'intake-report']);
    const otherPractice = await service.token('gp', '01067890');
    expect(await feedbackFor(serviceRequestId, otherPractice)).toEqual([]);
    expect((await service.request('GET', `/fhir/Communication/${created.body.id}`, { token: otherPractice })).status).toBe(404);
  });

  test('a corrected report under the same identifier is refused with 409, the first text stays, and the client identifier is kept as sent', async () => {
    const { taskId, serviceRequestId } = await submitReferral(service, gp);
    await claimAndAck(taskId, 'accepted');
    const report = (text: string) => ({
      resourceType: 'Communication',
      identifier: [{ system: 'https://coach.example.nl/rapport', value: 'R-77' }],
      about: [{ reference: `Task/${taskId}` }],
      payload: [{ contentString: text }],
    });
    const first = await service.request('POST', '/fhir/Communication', { token: coach, body: report('Intake gehouden.') });
    expect(first.status).toBe(201);
    expect(first.body.identifier).toEqual([
      { system: 'https://coach.example.nl/rapport', value: 'R-77' },
      { system: 'https://wor-bridge.nl/fhir/NamingSystem/communication', value: `${taskId}/report/${first.body.id}` },
    ]);
    const corrected = await service.request('POST', '/fhir/Communication', { token: coach, body: report('Intake gehouden; mevrouw start met de wandelgroep.') });
    expect(corrected.status).toBe(409);
    expect(corrected.body.issue[0]).toMatchObject({ code: 'conflict', expression: ['Communication.identifier[0]'] });
    const replay = await service.request('POST', '/fhir/Communication', { token: coach, body: report('Intake gehouden.') });
    expect(replay.status).toBe(200);
    expect(replay.body.id).toBe(first.body.id);
    const reports = (await feedbackFor(serviceRequestId)).filter((communication: any) => communication.category[0].coding[0].code === 'intake-report');
    expect(reports.map((communication: any) => communication.payload[0].contentString)).toEqual(['Intake gehouden.']);
  });

  test('a report that conforms to wor-communication (basedOn, subject, category, sent, sender, recipient) is accepted as it was sent', async () => {
    const { taskId, serviceRequestId } = await submitReferral(service, gp);
    await claimAndAck(taskId, 'accepted');
    const task = (await service.request('GET', `/fhir/Task/${taskId}`, { token: coach })).body;
    const conforming = {
      resourceType: 'Communication',
      meta: { profile: ['https://wor-bridge.nl/fhir/StructureDefinition/wor-communication'] },
      identifier: [{ system: 'https://coach.example.nl/rapport', value: 'R-78' }],
      basedOn: [{ reference: `ServiceRequest/${serviceRequestId}` }],
      status: 'completed',
      category: [{ coding: [{ system: FEEDBACK_KIND, code: 'intake-report' }] }],
      subject: { reference: task.for.reference },
      about: [{ reference: `Task/${taskId}` }],
      sent: '2026-11-27T10:00:00+01:00',
      recipient: [{ reference: task.requester.reference }],
      sender: { reference: 'Organization/team-leiden-noord' },
      payload: [{ contentString: 'Intakegesprek gehouden.' }],
    };
    const created = await service.request('POST', '/fhir/Communication', { token: coach, body: conforming });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ sent: '2026-11-27T10:00:00+01:00', identifier: [conforming.identifier[0], { system: 'https://wor-bridge.nl/fhir/NamingSystem/communication' }] });
    expectValidFhir(created.body);

    const elsewhere = await service.request('POST', '/fhir/Communication', {
      token: coach,
      body: { ...conforming, identifier: [{ value: 'R-79' }], subject: { reference: 'Patient/someone-else' } },
    });
    expect(elsewhere.status).toBe(422);
    expect(elsewhere.body.issue[0].expression).toEqual(['Communication.subject']);
    const minted = await service.request('POST', '/fhir/Communication', {
      token: coach,
      body: { ...conforming, identifier: [{ system: 'https://wor-bridge.nl/fhir/NamingSystem/communication', value: `${taskId}/accepted` }] },
    });
    expect(minted.status).toBe(400);
    expect(minted.body.issue[0].expression).toEqual(['Communication.identifier[0].system']);
  });

  test('If-None-Exist: a report whose identifier is known answers the stored one (200) and writes nothing; criteria other than identifier are refused', async () => {
    const { taskId, serviceRequestId } = await submitReferral(service, gp);
    await claimAndAck(taskId, 'accepted');
    const body = (text: string) => ({ resourceType: 'Communication', identifier: [{ system: 'https://coach.example.nl/rapport', value: `R-${taskId}` }], about: [{ reference: `Task/${taskId}` }], payload: [{ contentString: text }] });
    const headers = { 'if-none-exist': `identifier=https://coach.example.nl/rapport|R-${taskId}` };
    const created = await service.request('POST', '/fhir/Communication', { token: coach, body: body('Eerste verslag.'), headers });
    expect(created.status).toBe(201);
    const again = await service.request('POST', '/fhir/Communication', { token: coach, body: body('Ander verslag.'), headers });
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(created.body.id);
    expect(again.body.payload[0].contentString).toBe('Eerste verslag.');
    expect(again.headers.get('location')).toBe(`http://wor-bridge.test/fhir/Communication/${created.body.id}/_history/1`);
    expect(kinds(await feedbackFor(serviceRequestId))).toEqual(['accepted', 'intake-report']);
    const unsupported = await service.request('POST', '/fhir/Communication', { token: coach, body: body('x'), headers: { 'if-none-exist': 'status=completed' } });
    expect(unsupported.status).toBe(400);
    expect(unsupported.body.issue[0].expression).toEqual(['If-None-Exist']);
  });

  test("a coach cannot report on another team's Task, nor with an unknown arrangement", async () => {
    const { taskId } = await submitReferral(service, gp);
    const other = await service.token('coach', 'leiden-zuid');
    const body = { resourceType: 'Communication', about: [{ reference: `Task/${taskId}` }], payload: [{ contentString: 'x' }] };
    expect((await service.request('POST', '/fhir/Communication', { token: other, body })).status).toBe(404);
    const unknown = await service.request('POST', '/fhir/Communication', {
      token: coach,
      body: { ...body, extension: [{ url: 'https://wor-bridge.nl/fhir/StructureDefinition/wor-arrangement', valueCodeableConcept: { coding: [{ system: 'https://wor-bridge.nl/fhir/CodeSystem/wor-arrangement', code: 'schilderen' }] } }] },
    });
    expect(unknown.status).toBe(400);
    expect(unknown.body.issue[0].expression[0]).toMatch(/^Communication\.extension\[0\]\.valueCodeableConcept\.coding\[0\]\.code$/);
  });

  test('a GP pulls new feedback with _lastUpdated=gt and sees only its own', async () => {
    const since = new Date().toISOString();
    const { taskId, serviceRequestId } = await submitReferral(service, gp);
    await claimAndAck(taskId, 'accepted');
    const role = (await service.request('GET', `/fhir/Task/${taskId}`, { token: gp })).body.requester.reference;
    const pulled = await service.request('GET', `/fhir/Communication?recipient=${role}&_lastUpdated=gt${since}`, { token: gp });
    // One PractitionerRole per practitioner × practice: the pull also finds the letters of the earlier
    // referrals the queue clean-up rejected meanwhile — every letter of the practice, none of another's.
    const all = await service.request('GET', `/fhir/Communication?_lastUpdated=gt${since}&_count=0`, { token: gp });
    expect(pulled.body.total).toBe(all.body.total);
    expect(pulled.body.entry.map((entry: any) => entry.resource.basedOn[0].reference)).toContain(`ServiceRequest/${serviceRequestId}`);
    const later = await service.request('GET', `/fhir/Communication?recipient=${role}&_lastUpdated=gt${pulled.body.entry[0].resource.meta.lastUpdated}`, { token: gp });
    expect(later.body.total).toBe(0);
  });
});

describe('deadlines', () => {
  test('a referral nobody picks up gives one reminder when the pick-up deadline passes, and a late sweep does not repeat it', async () => {
    const { taskId, serviceRequestId } = await submitReferral(service, gp);
    const task = (await service.request('GET', `/fhir/Task/${taskId}`, { token: gp })).body;
    const deadline = Date.parse(task.restriction.period.end);
    await service.app.services.deadlines.sweep(deadline - 1000);
    expect(await feedbackFor(serviceRequestId)).toEqual([]);
    await service.app.services.deadlines.sweep(deadline + 1000);
    await service.app.services.deadlines.sweep(deadline + 60_000);
    expect(kinds(await feedbackFor(serviceRequestId))).toEqual(['pickup-deadline-missed']);
    const queue = (await service.request('GET', `/queues/${TEAM}`, { token: coach })).body;
    expect(queue.waiting).toBeGreaterThan(0);
  });

  test('an accepted referral cancels its pick-up timer; without contact made the contact deadline reminds the GP once', async () => {
    const { taskId, serviceRequestId } = await submitReferral(service, gp);
    await claimAndAck(taskId, 'accepted');
    const task = (await service.request('GET', `/fhir/Task/${taskId}`, { token: gp })).body;
    const contactDeadline = Date.parse(task.extension[0].valueDateTime);
    await service.app.services.deadlines.sweep(contactDeadline + 1000);
    await service.app.services.deadlines.sweep(contactDeadline + 2000);
    expect(kinds(await feedbackFor(serviceRequestId))).toEqual(['accepted', 'contact-deadline-missed']);
  });

  test('contact made stops the contact timer', async () => {
    const { taskId, serviceRequestId } = await submitReferral(service, gp);
    await claimAndAck(taskId, 'accepted');
    await service.request('PATCH', `/fhir/Task/${taskId}`, {
      token: coach,
      rawBody: JSON.stringify([
        { op: 'replace', path: '/status', value: 'in-progress' },
        { op: 'add', path: '/businessStatus', value: { coding: [{ system: 'https://wor-bridge.nl/fhir/CodeSystem/wor-business-step', code: 'contact-made' }] } },
      ]),
      headers: { 'content-type': 'application/json-patch+json' },
    });
    await service.app.services.deadlines.sweep(Date.now() + 60 * 86_400_000);
    expect(kinds(await feedbackFor(serviceRequestId))).toEqual(['accepted']);
  });
});
