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
  const erasedIds = [task.id, request.id, request.supportingInfo[0].reference.split('/')[1], ...feedback.entry.map((entry: any) => entry.resource.id)];
  // Master data the open referral shares (same patient, same practitioner and practice) stays while it lives.
  const role = (await service.request('GET', `/fhir/${request.requester.reference}`, { token: gp })).body;
  const sharedIds = [task.for.reference, request.requester.reference, role.practitioner.reference, role.organization.reference].map((ref: string) => ref.split('/')[1]);
  expect((await service.request('GET', `/fhir/ServiceRequest/${open.serviceRequestId}`, { token: gp })).body.subject).toEqual(request.subject);

  expect(await service.app.services.retention.sweep(new Date(Date.now() - 60_000))).toBe(0);
  expect(await service.app.services.retention.sweep(new Date(Date.now() + 60_000))).toBe(1);

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
  // The open referral is untouched, and so is the master data it uses.
  expect((await service.request('GET', `/fhir/Task/${open.taskId}`, { token: gp })).body.status).toBe('requested');
  const kept = await service.db.query('SELECT id FROM resource WHERE id = ANY($1::text[])', [sharedIds]);
  expect(kept.rows).toHaveLength(4);
  expect((await service.request('GET', `/fhir/${task.for.reference}`, { token: gp })).status).toBe(200);
});

test('master data goes with the last referral that uses it', async () => {
  const { rows: before } = await service.db.query(`SELECT service_request FROM referral_master_data`);
  const referrals = [...new Set(before.map((row) => row.service_request as string))];
  const tasks = await Promise.all(referrals.map(async (id) => (await service.request('GET', `/fhir/Task?focus=ServiceRequest/${id}`, { token: gp })).body.entry[0].resource));
  const patientIds = [...new Set(tasks.map((task: any) => task.for.reference.split('/')[1]))];
  for (const id of referrals) {
    const referralId = (await service.request('GET', `/fhir/ServiceRequest/${id}`, { token: gp })).body.identifier[0].value;
    expect((await service.request('POST', `/referrals/${referralId}/cancel`, { token: gp, body: { reason: 'verhuisd' } })).status).toBe(200);
  }
  expect(await service.app.services.retention.sweep(new Date(Date.now() + 60_000))).toBe(tasks.length);
  expect((await service.db.query(`SELECT 1 FROM referral_master_data`)).rows).toEqual([]);
  for (const type of ['Patient', 'Practitioner', 'PractitionerRole']) {
    expect({ type, rows: (await service.db.query('SELECT id FROM resource_version WHERE resource_type = $1', [type])).rows }).toEqual({ type, rows: [] });
  }
  expect((await service.db.query(`SELECT 1 FROM resource WHERE resource_type = 'Organization' AND id NOT LIKE 'team-%'`)).rows).toEqual([]);
  expect((await service.db.query('SELECT 1 FROM search_index WHERE id = ANY($1::text[])', [patientIds])).rows).toEqual([]);
});
