import { describe, expect, test } from '@jest/globals';
import { PRACTICE_AGB } from '../fixtures/referral.js';
import { patientAt, submitReferral } from '../support/referrals.js';
import { withService } from '../support/service.js';

const TEAM = 'leiden-noord';

const { service, gp, coach } = await withService({ env: { QUEUE_LEASE_SECONDS: '2' }, tokens: { gp: ['gp', PRACTICE_AGB], coach: ['coach', TEAM] } });

const claim = (wait = 0, token = coach, team = TEAM) => service.request('POST', `/queues/${team}/claim?wait=${wait}`, { token });
const lease = (leaseId: string, action: string, body?: unknown, team = TEAM) =>
  service.request('POST', `/queues/${team}/leases/${leaseId}/${action}`, { token: coach, body });
const taskOf = async (taskId: string) => (await service.request('GET', `/fhir/Task/${taskId}`, { token: coach })).body;
const claimedTaskId = (response: { body: { bundle: { entry: Array<{ resource: { resourceType: string; id: string } }> } } }) =>
  response.body.bundle.entry[0]!.resource.id;

async function drain() {
  for (;;) {
    const response = await claim();
    if (response.status === 204) return;
    await lease(response.body.lease.id, 'ack', { status: 'rejected', statusReason: 'opruimen tussen scenario’s' });
  }
}

describe('the team queue', () => {
  test('a claim leases the next task with the bundle a coach needs and marks it received', async () => {
    await drain();
    const { taskId, serviceRequestId } = await submitReferral(service, gp);
    const response = await claim();
    expect(response.status).toBe(200);
    expect(response.body.lease.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(Date.parse(response.body.lease.expiresAt)).toBeGreaterThan(Date.now());
    const types = response.body.bundle.entry.map((entry: { resource: { resourceType: string } }) => entry.resource.resourceType);
    expect(types).toEqual(['Task', 'ServiceRequest', 'Patient', 'Consent', 'PractitionerRole', 'Practitioner', 'Organization']);
    expect(response.body.bundle.entry[0].resource).toMatchObject({ id: taskId, status: 'received' });
    expect(response.body.bundle.entry[1].resource.id).toBe(serviceRequestId);
    expect((await taskOf(taskId)).status).toBe('received');
    expect((await service.request('GET', `/queues/${TEAM}`, { token: coach })).body).toMatchObject({ waiting: 0, leased: 1 });
    await lease(response.body.lease.id, 'ack', { status: 'accepted' });
  });

  test('nothing waiting answers 204, also after a short long-poll', async () => {
    await drain();
    const started = Date.now();
    const response = await claim(1);
    expect(response.status).toBe(204);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
  });

  test('a long-polling claimer gets a referral that arrives while it waits', async () => {
    await drain();
    const waiting = claim(10);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const { taskId } = await submitReferral(service, gp);
    const started = Date.now();
    const response = await waiting;
    expect(response.status).toBe(200);
    expect(claimedTaskId(response)).toBe(taskId);
    expect(Date.now() - started).toBeLessThan(1500);
    await lease(response.body.lease.id, 'ack', { status: 'accepted' });
  });

  test('urgent referrals come first, then the oldest', async () => {
    await drain();
    const first = await submitReferral(service, gp);
    const second = await submitReferral(service, gp);
    const urgent = await submitReferral(service, gp, { urgency: 'urgent' });
    const order = [];
    for (let i = 0; i < 3; i += 1) {
      const response = await claim();
      order.push(claimedTaskId(response));
      await lease(response.body.lease.id, 'ack', { status: 'accepted' });
    }
    expect(order).toEqual([urgent.taskId, first.taskId, second.taskId]);
  });

  test('an accepted task leaves the queue and its lease cannot be used again', async () => {
    await drain();
    const { taskId } = await submitReferral(service, gp);
    const claimed = await claim();
    const ack = await lease(claimed.body.lease.id, 'ack', { status: 'accepted' });
    expect(ack.status).toBe(200);
    expect(ack.body).toMatchObject({ id: taskId, status: 'accepted' });
    expect(ack.headers.get('etag')).toBe('W/"3"');
    expect((await claim()).status).toBe(204);
    expect((await lease(claimed.body.lease.id, 'ack', { status: 'accepted' })).status).toBe(404);
    expect((await service.request('GET', `/queues/${TEAM}`, { token: coach })).body).toMatchObject({ waiting: 0, leased: 0, overdue: 0 });
  });

  test('a Task that leaves the queue, acknowledged or cancelled, leaves nothing of itself in Redis', async () => {
    await drain();
    const accepted = await submitReferral(service, gp);
    const cancelled = await submitReferral(service, gp);
    const keysOf = (taskId: string) => service.redis.keys(`${service.prefix}:*${taskId}*`);
    expect(await keysOf(accepted.taskId)).not.toEqual([]);
    const claimed = await claim();
    expect(claimedTaskId(claimed)).toBe(accepted.taskId);
    expect((await lease(claimed.body.lease.id, 'ack', { status: 'accepted' })).status).toBe(200);
    await service.request('POST', `/referrals/${cancelled.referralId}/cancel`, { token: gp, body: { reason: 'Dubbel verwezen' } });
    expect({ accepted: await keysOf(accepted.taskId), cancelled: await keysOf(cancelled.taskId) }).toEqual({ accepted: [], cancelled: [] });
  });

  test('a rejection needs a reason and keeps it on the Task', async () => {
    await drain();
    const { taskId } = await submitReferral(service, gp);
    const claimed = await claim();
    const refused = await lease(claimed.body.lease.id, 'ack', { status: 'rejected' });
    expect(refused.status).toBe(422);
    expect(refused.body.issue[0].expression).toEqual(['Task.statusReason']);
    const rejected = await lease(claimed.body.lease.id, 'ack', { status: 'rejected', statusReason: 'Buiten ons werkgebied' });
    expect(rejected.status).toBe(200);
    expect(await taskOf(taskId)).toMatchObject({ status: 'rejected', statusReason: { text: 'Buiten ons werkgebied' } });
  });

  test('an acknowledgement with an unknown status is refused precisely', async () => {
    await drain();
    await submitReferral(service, gp);
    const claimed = await claim();
    const response = await lease(claimed.body.lease.id, 'ack', { status: 'completed' });
    expect(response.status).toBe(400);
    expect(response.body.issue[0].expression).toEqual(['status']);
    await lease(claimed.body.lease.id, 'release');
  });

  test('a released task is requested again and is the next one claimed', async () => {
    await drain();
    const { taskId } = await submitReferral(service, gp);
    await submitReferral(service, gp);
    const claimed = await claim();
    expect(claimedTaskId(claimed)).toBe(taskId);
    const released = await lease(claimed.body.lease.id, 'release');
    expect(released.status).toBe(200);
    expect(released.body.status).toBe('requested');
    const again = await claim();
    expect(claimedTaskId(again)).toBe(taskId);
    await lease(again.body.lease.id, 'ack', { status: 'accepted' });
    await drain();
  });

  test('a coach system that dies holding a lease loses nothing: the task returns after the lease time, not before', async () => {
    await drain();
    const { taskId } = await submitReferral(service, gp);
    const claimed = await claim();
    expect(claimedTaskId(claimed)).toBe(taskId);
    expect((await claim()).status).toBe(204);
    const started = Date.now();
    const again = await claim(8);
    expect(again.status).toBe(200);
    expect(claimedTaskId(again)).toBe(taskId);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1500);
    expect((await lease(claimed.body.lease.id, 'ack', { status: 'accepted' })).status).toBe(409);
    expect((await lease(again.body.lease.id, 'ack', { status: 'accepted' })).status).toBe(200);
  });

  test('an expired lease puts the Task back to requested by itself', async () => {
    await drain();
    const { taskId } = await submitReferral(service, gp);
    await claim();
    expect((await taskOf(taskId)).status).toBe('received');
    let status = 'received';
    for (let i = 0; i < 40 && status !== 'requested'; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      status = (await taskOf(taskId)).status;
    }
    expect(status).toBe('requested');
    await drain();
  });

  test('extending a lease keeps the task away from other claimers', async () => {
    await drain();
    await submitReferral(service, gp);
    const claimed = await claim();
    for (let i = 0; i < 3; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const extended = await lease(claimed.body.lease.id, 'extend');
      expect(extended.status).toBe(200);
      expect(extended.body.lease.id).toBe(claimed.body.lease.id);
    }
    expect((await claim()).status).toBe(204);
    expect((await lease(claimed.body.lease.id, 'ack', { status: 'accepted' })).status).toBe(200);
  });

  test('a cancellation by the referrer while the coach holds the lease: the lease cannot be accepted and says why', async () => {
    await drain();
    const { referralId, taskId, serviceRequestId } = await submitReferral(service, gp);
    const claimed = await claim();
    const cancel = await service.request('POST', `/referrals/${referralId}/cancel`, { token: gp, body: { reason: 'Patiënt wil het zelf regelen' } });
    expect(cancel.status).toBe(200);
    const ack = await lease(claimed.body.lease.id, 'ack', { status: 'accepted' });
    expect(ack.status).toBe(409);
    expect(ack.body.issue[0]).toMatchObject({ code: 'conflict', expression: ['Task.status'] });
    expect(ack.body.issue[0].diagnostics).toMatch(/cancelled/);
    expect(await taskOf(taskId)).toMatchObject({ status: 'cancelled', statusReason: { text: 'Patiënt wil het zelf regelen' } });
    const request = await service.request('GET', `/fhir/ServiceRequest/${serviceRequestId}`, { token: gp });
    expect(request.body.status).toBe('revoked');
    expect((await service.request('GET', `/queues/${TEAM}`, { token: coach })).body).toMatchObject({ waiting: 0, leased: 0 });
    const twice = await service.request('POST', `/referrals/${referralId}/cancel`, { token: gp, body: { reason: 'nogmaals' } });
    expect(twice.status).toBe(200);
    expect(await taskOf(taskId)).toMatchObject({ status: 'cancelled', meta: { versionId: '3' } });
  });

  test('a task cancelled while waiting leaves the queue and is never claimed', async () => {
    await drain();
    const { referralId } = await submitReferral(service, gp);
    await service.request('POST', `/referrals/${referralId}/cancel`, { token: gp, body: { reason: 'Dubbel verwezen' } });
    expect((await claim()).status).toBe(204);
  });

  test('a stale or foreign lease id is refused without revealing anything', async () => {
    await drain();
    expect((await lease('00000000-0000-4000-8000-000000000000', 'ack', { status: 'accepted' })).status).toBe(404);
    await submitReferral(service, gp);
    const claimed = await claim();
    const otherCoach = await service.token('coach', 'leiden-zuid');
    const foreign = await service.request('POST', `/queues/leiden-zuid/leases/${claimed.body.lease.id}/ack`, { token: otherCoach, body: { status: 'accepted' } });
    expect(foreign.status).toBe(404);
    await lease(claimed.body.lease.id, 'release');
    await drain();
  });

  test("a coach cannot claim from or count another team's queue", async () => {
    const otherCoach = await service.token('coach', 'leiden-zuid');
    expect((await claim(0, otherCoach, TEAM)).status).toBe(404);
    expect((await service.request('GET', `/queues/${TEAM}`, { token: otherCoach })).status).toBe(404);
    expect((await claim(0, coach, 'no-such-team')).status).toBe(404);
    expect((await claim(0, gp, TEAM)).status).toBe(403);
  });

  test('wait above 30 seconds is refused', async () => {
    const response = await claim(31);
    expect(response.status).toBe(400);
    expect(response.body.issue[0].expression).toEqual(['wait']);
  });

  test('a referral for another team never shows up in this queue', async () => {
    await drain();
    await submitReferral(service, gp, patientAt('2317 AB'));
    expect((await claim()).status).toBe(204);
    const zuid = await service.token('coach', 'leiden-zuid');
    expect((await claim(0, zuid, 'leiden-zuid')).status).toBe(200);
  });
});

describe('lease expiry never undoes a newer lease', () => {
  test('the expiry of an old lease, reported after the task was claimed again, leaves the new lease and the received Task alone', async () => {
    await drain();
    const { taskId } = await submitReferral(service, gp);
    const first = await claim();
    expect(claimedTaskId(first)).toBe(taskId);
    // The first lease runs out and BullMQ puts the job back; another claimer takes it at once.
    await new Promise((resolve) => setTimeout(resolve, 4500));
    const second = await claim();
    expect(claimedTaskId(second)).toBe(taskId);
    expect(second.body.lease.id).not.toBe(first.body.lease.id);
    // Only now does the expiry handler of the first lease run (a slow event, or a second instance).
    await service.app.services.leases.leaseExpired(TEAM, taskId);
    expect((await taskOf(taskId)).status).toBe('received');
    expect(await service.redis.get(`${service.prefix}:lease-of:${taskId}`)).toBe(second.body.lease.id);
    expect((await service.request('GET', `/queues/${TEAM}`, { token: coach })).body).toMatchObject({ leased: 1 });
    expect((await lease(first.body.lease.id, 'ack', { status: 'accepted' })).status).toBe(409);
    const acked = await lease(second.body.lease.id, 'ack', { status: 'accepted' });
    expect(acked.status).toBe(200);
    expect(acked.body.status).toBe('accepted');
  });
});
