import { expect, test } from '@jest/globals';
import { Queue } from 'bullmq';
import { exampleReferral, PRACTICE_AGB } from '../fixtures/referral.js';
import { claimAndAnswer, submitReferral } from '../support/referrals.js';
import { withService } from '../support/service.js';


const { service, gp, coach } = await withService({ tokens: { gp: ['gp', PRACTICE_AGB], coach: ['coach', 'leiden-noord'] } });

test('a referral that ended longer ago than the retention period is erased everywhere; an open one stays', async () => {
  const ended = await submitReferral(service, gp);
  const open = await submitReferral(service, gp);
  // The team accepts and completes the first: feedback is written, the queue job completes.
  await claimAndAnswer(service, coach, ended.taskId);
  await service.request('PATCH', `/fhir/Task/${ended.taskId}`, {
    token: coach,
    rawBody: JSON.stringify([{ op: 'replace', path: '/status', value: 'completed' }]),
    headers: { 'content-type': 'application/json-patch+json' },
  });
  const task = (await service.request('GET', `/fhir/Task/${ended.taskId}`, { token: gp })).body;
  const request = (await service.request('GET', `/fhir/ServiceRequest/${ended.serviceRequestId}`, { token: gp })).body;
  const feedback = (await service.request('GET', `/fhir/Communication?based-on=ServiceRequest/${ended.serviceRequestId}`, { token: gp })).body;
  expect(feedback.total).toBe(2);
  const erasedIds = [task.id, request.id, task.for.reference.split('/')[1], request.requester.reference.split('/')[1], ...feedback.entry.map((entry: any) => entry.resource.id)];

  expect(await service.app.retention.sweep(new Date(Date.now() - 60_000))).toBe(0);
  expect(await service.app.retention.sweep(new Date(Date.now() + 60_000))).toBe(1);

  for (const table of ['resource', 'resource_version', 'search_index']) {
    const { rows } = await service.db.query(`SELECT id FROM ${table} WHERE id = ANY($1::text[])`, [erasedIds]);
    expect(rows).toEqual([]);
  }
  expect((await service.db.query('SELECT 1 FROM idempotency WHERE owner = $1', [`ServiceRequest/${ended.serviceRequestId}`])).rows).toEqual([]);
  expect((await service.db.query('SELECT 1 FROM timer WHERE task_id = $1', [ended.taskId])).rows).toEqual([]);
  expect((await service.db.query('SELECT 1 FROM timer WHERE task_id = $1', [open.taskId])).rows).toHaveLength(2);
  const queue = new Queue('team-leiden-noord', { connection: service.redis, prefix: `${service.prefix}:bull` });
  expect(await queue.getJob(ended.taskId)).toBeUndefined();
  expect(await queue.getJob(open.taskId)).toBeDefined();
  await queue.close();
  expect((await service.request('GET', `/fhir/Task/${ended.taskId}`, { token: gp })).status).toBe(404);
  expect((await service.request('GET', `/fhir/ServiceRequest?identifier=${ended.referralId}`, { token: gp })).body.total).toBe(0);
  // The idempotency record went too: the same referral id is a new referral now.
  expect((await service.request('POST', '/referrals', { token: gp, body: exampleReferral({ referralId: ended.referralId }) })).status).toBe(201);
  // The open referral is untouched.
  expect((await service.request('GET', `/fhir/Task/${open.taskId}`, { token: gp })).body.status).toBe('requested');
});
