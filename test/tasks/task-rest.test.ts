import { describe, expect, test } from '@jest/globals';
import { PRACTICE_AGB } from '../fixtures/referral.js';
import { claimAndAnswer, submitReferral } from '../support/referrals.js';
import { withService } from '../support/service.js';

const TEAM = 'leiden-noord';
const STEP = 'https://wor-bridge.nl/fhir/CodeSystem/wor-business-step';

const { service, gp, coach } = await withService({ tokens: { gp: ['gp', PRACTICE_AGB], coach: ['coach', TEAM] } });

/** A referral whose Task the team has accepted (version 3: requested, received, accepted). */
async function acceptedTask(): Promise<string> {
  const { taskId } = await submitReferral(service, gp);
  await claimAndAnswer(service, coach, taskId);
  return taskId;
}

const patch = (taskId: string, operations: unknown, token = coach, ifMatch?: string) =>
  service.request('PATCH', `/fhir/Task/${taskId}`, {
    token,
    rawBody: JSON.stringify(operations),
    headers: { 'content-type': 'application/json-patch+json', ...(ifMatch ? { 'if-match': ifMatch } : {}) },
  });

describe('the Task lifecycle through FHIR REST', () => {
  test('the team moves an accepted Task through its steps with JSON Patch and If-Match, and history keeps every version', async () => {
    const taskId = await acceptedTask();
    const inProgress = await patch(
      taskId,
      [
        { op: 'replace', path: '/status', value: 'in-progress' },
        { op: 'add', path: '/businessStatus', value: { coding: [{ system: STEP, code: 'contact-made', display: 'Contact met patiënt gemaakt' }] } },
      ],
      coach,
      'W/"3"',
    );
    expect(inProgress.status).toBe(200);
    expect(inProgress.headers.get('etag')).toBe('W/"4"');
    expect(inProgress.body).toMatchObject({ status: 'in-progress', businessStatus: { coding: [{ code: 'contact-made' }] } });

    const task = inProgress.body;
    const completed = await service.request('PUT', `/fhir/Task/${taskId}`, {
      token: coach,
      body: { ...task, status: 'completed', businessStatus: { coding: [{ system: STEP, code: 'trajectory-completed' }] } },
      headers: { 'if-match': 'W/"4"' },
    });
    expect(completed.status).toBe(200);
    expect(completed.body.status).toBe('completed');
    const history = await service.request('GET', `/fhir/Task/${taskId}/_history`, { token: coach });
    expect(history.body.entry.map((entry: { resource: { status: string } }) => entry.resource.status)).toEqual([
      'completed',
      'in-progress',
      'accepted',
      'received',
      'requested',
    ]);
    const serviceRequestId = task.focus.reference.split('/')[1];
    expect((await service.request('GET', `/fhir/ServiceRequest/${serviceRequestId}`, { token: gp })).body.status).toBe('completed');
  });

  test('an update against a stale version answers 412 and changes nothing', async () => {
    const taskId = await acceptedTask();
    const response = await patch(taskId, [{ op: 'replace', path: '/status', value: 'in-progress' }], coach, 'W/"2"');
    expect(response.status).toBe(412);
    expect(response.body.resourceType).toBe('OperationOutcome');
    expect((await service.request('GET', `/fhir/Task/${taskId}`, { token: coach })).body.meta.versionId).toBe('3');
  });

  test('a malformed If-Match is refused with 400, not treated as a stale version', async () => {
    const taskId = await acceptedTask();
    const response = await patch(taskId, [{ op: 'replace', path: '/status', value: 'in-progress' }], coach, 'version 3');
    expect(response.status).toBe(400);
    expect(response.body.issue[0].expression).toEqual(['If-Match']);
  });

  test('a cancelled Task keeps its reason: a later change of it answers 409', async () => {
    const taskId = await acceptedTask();
    const cancel = [{ op: 'replace', path: '/status', value: 'cancelled' }, { op: 'add', path: '/statusReason', value: { text: 'Ingetrokken' } }];
    expect((await patch(taskId, cancel, gp)).status).toBe(200);
    const rewrite = await patch(taskId, [{ op: 'replace', path: '/statusReason', value: { text: 'Toch anders' } }], gp);
    expect(rewrite.status).toBe(409);
    expect((await service.request('GET', `/fhir/Task/${taskId}`, { token: gp })).body.statusReason.text).toBe('Ingetrokken');
  });

  test('a move outside the state machine answers 409; a finished Task stays finished', async () => {
    const taskId = await acceptedTask();
    expect((await patch(taskId, [{ op: 'replace', path: '/status', value: 'received' }])).status).toBe(403);
    await patch(taskId, [{ op: 'replace', path: '/status', value: 'failed' }, { op: 'add', path: '/statusReason', value: { text: 'Patiënt niet bereikt' } }]);
    const reopen = await patch(taskId, [{ op: 'replace', path: '/status', value: 'in-progress' }]);
    expect(reopen.status).toBe(409);
    expect(reopen.body.issue[0].expression).toEqual(['Task.status']);
  });

  test('the referrer may cancel, but not do the team’s work', async () => {
    const taskId = await acceptedTask();
    const refused = await patch(taskId, [{ op: 'replace', path: '/status', value: 'in-progress' }], gp);
    expect(refused.status).toBe(403);
    const cancelled = await patch(
      taskId,
      [{ op: 'replace', path: '/status', value: 'cancelled' }, { op: 'add', path: '/statusReason', value: { text: 'Verwijzing ingetrokken' } }],
      gp,
    );
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.status).toBe('cancelled');
  });

  test('the team may not cancel: that is the referrer’s move', async () => {
    const taskId = await acceptedTask();
    const response = await patch(taskId, [{ op: 'replace', path: '/status', value: 'cancelled' }, { op: 'add', path: '/statusReason', value: { text: 'x' } }]);
    expect(response.status).toBe(403);
  });

  test('a malformed JSON Patch or a failing test operation is refused precisely', async () => {
    const taskId = await acceptedTask();
    const malformed = await patch(taskId, [{ op: 'jump', path: '/status' }]);
    expect(malformed.status).toBe(400);
    expect(malformed.body.issue[0].expression).toEqual(['/0/op']);
    const failing = await patch(taskId, [{ op: 'test', path: '/status', value: 'requested' }, { op: 'replace', path: '/status', value: 'in-progress' }]);
    expect(failing.status).toBe(422);
    expect((await service.request('GET', `/fhir/Task/${taskId}`, { token: coach })).body.status).toBe('accepted');
    expect((await patch(taskId, [{ op: 'remove', path: '' }])).status).toBe(422);
    const request = (await service.request('GET', `/fhir/Task/${taskId}`, { token: coach })).body.focus.reference;
    const removeAll = await service.request('PATCH', `/fhir/${request}`, {
      token: gp,
      rawBody: JSON.stringify([{ op: 'remove', path: '' }]),
      headers: { 'content-type': 'application/json-patch+json' },
    });
    expect(removeAll.status).toBe(422);
  });

  test.each(['draft', 'ready', 'entered-in-error'])('%s, a FHIR Task status the workflow never takes, is refused with 403 (no party may set it) and the Task stays as it was', async (status) => {
    const taskId = await acceptedTask();
    const response = await patch(taskId, [{ op: 'replace', path: '/status', value: status }]);
    expect(response.status).toBe(403);
    expect(response.body.issue[0]).toMatchObject({ code: 'forbidden', diagnostics: `The team may not set a Task to ${status}` });
    expect((await service.request('GET', `/fhir/Task/${taskId}`, { token: coach })).body).toMatchObject({ status: 'accepted', meta: { versionId: expect.any(String) } });
  });

  test('changing the owner of a Task is refused and names the element', async () => {
    const taskId = await acceptedTask();
    const response = await patch(taskId, [{ op: 'replace', path: '/owner/reference', value: 'Organization/team-leiden-zuid' }]);
    expect(response.status).toBe(422);
    expect(response.body.issue[0].expression).toEqual(['Task.owner']);
  });

  test("another team's coach cannot see or patch the Task", async () => {
    const taskId = await acceptedTask();
    const other = await service.token('coach', 'leiden-zuid');
    expect((await patch(taskId, [{ op: 'replace', path: '/status', value: 'in-progress' }], other)).status).toBe(404);
  });

  test('the referrer revokes a ServiceRequest with a FHIR PATCH: the Task is cancelled and leaves the queue', async () => {
    const { serviceRequestId, taskId } = await submitReferral(service, gp);
    const response = await service.request('PATCH', `/fhir/ServiceRequest/${serviceRequestId}`, {
      token: gp,
      rawBody: JSON.stringify([{ op: 'replace', path: '/status', value: 'revoked' }]),
      headers: { 'content-type': 'application/json-patch+json' },
    });
    expect(response.status).toBe(200);
    expect(response.body.status).toBe('revoked');
    expect((await service.request('GET', `/fhir/Task/${taskId}`, { token: gp })).body.status).toBe('cancelled');
    const other = await service.request('PATCH', `/fhir/ServiceRequest/${serviceRequestId}`, {
      token: gp,
      rawBody: JSON.stringify([{ op: 'replace', path: '/priority', value: 'urgent' }]),
      headers: { 'content-type': 'application/json-patch+json' },
    });
    expect(other.status).toBe(422);
  });
});
