import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import type { Communication, Task } from 'fhir/r4.js';
import { GpFhirServer } from '../support/gp-fhir-server.js';
import { submitReferral } from '../support/referrals.js';
import { LEIDEN_NOORD } from '../support/directory.js';
import { withService } from '../support/service.js';

/**
 * The DeliveryQueue on its own: Communications written straight into the store and handed to
 * `app.deliveries.add`, delivered to the HAPI-strict fake GP system (test/support/gp-fhir-server.ts).
 */

const SYSTEM = 'https://wor-bridge.nl/fhir/NamingSystem/communication';
const BEARER_AGB = '01054321';
const SMART_AGB = '01067890';
const NO_ENDPOINT_AGB = '01099999';
const ATTEMPTS = 4;

const gpSystem = new GpFhirServer();
let keyFile: string;
/** A referral per practice, for the Communications to be about. */
const tasks = new Map<string, Task>();

beforeAll(async () => {
  await gpSystem.start();
  // SMART backend with an RSA key as PKCS#8 PEM (the other delivery test uses an ES384 JWK).
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  keyFile = join(mkdtempSync(join(tmpdir(), 'wor-smart-')), 'client.pem');
  writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
  gpSystem.smart = { key: publicKey, clientId: 'wor-bridge-test' };
  process.env.TEST_GP_TOKEN = 'gp-bearer-secret';
});
const { service, operator } = await withService(
  { env: { DELIVERY_ATTEMPTS: String(ATTEMPTS), DELIVERY_BACKOFF_MS: '50', DELIVERY_TIMEOUT_MS: '400' }, tokens: { operator: ['operator', 'regio'] } },
  // The GP system's port is known once it listens.
  () => ({
    directory: {
      teams: [LEIDEN_NOORD],
      practices: [
        { agb: BEARER_AGB, name: 'Huisartsenpraktijk De Linde', fhirEndpoint: { url: `http://127.0.0.1:${gpSystem.port}/fhir`, auth: { type: 'bearer', tokenEnv: 'TEST_GP_TOKEN' } } },
        {
          agb: SMART_AGB,
          name: 'Gezondheidscentrum Merenwijk',
          fhirEndpoint: {
            url: `http://127.0.0.1:${gpSystem.port}/fhir`,
            auth: { type: 'smart-backend', client_id: 'wor-bridge-test', tokenUrl: `http://127.0.0.1:${gpSystem.port}/token`, keyFile },
          },
        },
        { agb: NO_ENDPOINT_AGB, name: 'Huisartsenpraktijk Zonder Koppeling' },
      ],
    },
  }),
);
beforeAll(async () => {
  for (const agb of [BEARER_AGB, SMART_AGB, NO_ENDPOINT_AGB]) {
    const gp = await service.token('gp', agb);
    const { taskId } = await submitReferral(service, gp, { requester: { agb: '01012345', name: 'A. Jansen', practice: { agb } } });
    tasks.set(agb, (await service.app.services.store.read<Task>('Task', taskId))!.resource);
  }
});

afterEach(() => gpSystem.reset());

const callsFor = (value: string) => gpSystem.callsFor(`${SYSTEM}|${value}`);
const storedFor = (value: string) => gpSystem.communications(`${SYSTEM}|${value}`).length;

afterAll(() => gpSystem.stop());

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function eventually<T>(check: () => T | Promise<T>, ms = 8_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const result = await check();
    if (result) return result;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(25);
  }
}

/** Writes a feedback Communication straight into the store; returns its id and identifier value. */
async function storeCommunication(agb = BEARER_AGB): Promise<{ id: string; value: string }> {
  const id = randomUUID();
  const task = tasks.get(agb)!;
  const value = `${task.id}/report/${id}`;
  const communication: Communication = {
    resourceType: 'Communication',
    id,
    status: 'completed',
    identifier: [{ system: SYSTEM, value }],
    basedOn: [task.focus!],
    subject: task.for!,
    about: [{ reference: `Task/${task.id}` }],
    recipient: [task.requester!],
    sender: { reference: 'Organization/team-leiden-noord' },
    sent: new Date().toISOString(),
    // Patient data on purpose: it must reach the GP system and never a log line.
    payload: [{ contentString: 'Johanna van der Berg (BSN 999990019), Breestraat 1, 2311 CS Leiden: aangemeld.' }],
  };
  await service.app.services.store.commit({ writes: [{ resource: communication, acl: [`gp:${agb}`] }] });
  return { id, value };
}

async function parkedList(): Promise<any[]> {
  const response = await service.request('GET', '/operator/deliveries?state=failed', { token: operator });
  expect(response.status).toBe(200);
  return response.body.parked;
}

const parkedEntry = (communicationId: string) => eventually(async () => (await parkedList()).find((entry) => entry.communicationId === communicationId));

/** The delivery record in PostgreSQL. */
async function deliveryRow(communicationId: string): Promise<any> {
  const { rows } = await service.db.query('SELECT * FROM delivery WHERE communication_id = $1', [communicationId]);
  return rows[0];
}

/**
 * Empties the service's Redis, as FLUSHALL would. Until the resource store moves to PostgreSQL
 * (issue 9, the lead's branch), the stored Communications still live in Redis (`res:`, `idx:`,
 * `ten:`), so those are kept; everything else, all BullMQ state included, goes.
 */
async function flushRedis(): Promise<void> {
  const keys = await service.keys('*');
  if (keys.length > 0) await service.redis.del(...keys);
  expect(await service.keys('bull:*')).toEqual([]);
}

describe('DeliveryQueue: one Communication at the GP system per feedback', () => {
  test('delivered once by conditional create, with the bearer token and the request id; the patient data reaches the GP and not the log', async () => {
    const { id, value } = await storeCommunication();
    await service.app.services.deliveries.add({ communicationId: id, practiceAgb: BEARER_AGB, requestId: 'req-direct-1' });
    await eventually(() => storedFor(value) === 1);
    const [call, ...more] = callsFor(value);
    expect(more).toHaveLength(0);
    expect(call).toEqual({
      method: 'POST',
      path: '/fhir/Communication',
      authorization: 'Bearer gp-bearer-secret',
      requestId: 'req-direct-1',
      ifNoneExist: `identifier=${encodeURIComponent(`${SYSTEM}|${value}`)}`,
      identifier: `${SYSTEM}|${value}`,
      status: 201,
    });
    const [received] = gpSystem.communications(`${SYSTEM}|${value}`) as unknown as Communication[];
    expect(received!.payload?.[0]?.contentString).toContain('Johanna van der Berg');
    expect(received!.subject).toEqual({ type: 'Patient', identifier: { system: 'http://fhir.nl/fhir/NamingSystem/bsn', value: '999990019' }, display: 'Johanna van der Berg' });

    await sleep(100); // let the log line be written
    // The global setup of a concurrent jest run empties test/.logs; the file is then gone (unlinked).
    const logs = readdirSync('test/.logs').filter((name) => name.startsWith(`${service.prefix}-`));
    const text = logs.map((name) => readFileSync(join('test/.logs', name), 'utf8')).join('');
    if (logs.length > 0) expect(text).toContain(id);
    for (const patientData of ['Johanna', 'van der Berg', '999990019', 'Breestraat', '2311 CS']) expect(text).not.toContain(patientData);
  });

  test('the same Communication added twice, at once and after delivery, is delivered once', async () => {
    const { id, value } = await storeCommunication();
    const entry = { communicationId: id, practiceAgb: BEARER_AGB };
    await Promise.all([service.app.services.deliveries.add(entry), service.app.services.deliveries.add(entry)]);
    await eventually(() => storedFor(value) === 1);
    await service.app.services.deliveries.add(entry);
    await sleep(300);
    expect(callsFor(value)).toHaveLength(1);
  });

  test('503 twice, then accepted: one Communication at the GP system, after three calls', async () => {
    gpSystem.failWith = [503, 503];
    const { id, value } = await storeCommunication();
    await service.app.services.deliveries.add({ communicationId: id, practiceAgb: BEARER_AGB });
    await eventually(() => storedFor(value) === 1);
    await sleep(300);
    expect(callsFor(value)).toHaveLength(3);
  });

  test('429 and 502 are retried too', async () => {
    gpSystem.failWith = [429, 502];
    const { id, value } = await storeCommunication();
    await service.app.services.deliveries.add({ communicationId: id, practiceAgb: BEARER_AGB });
    await eventually(() => storedFor(value) === 1);
    expect(callsFor(value)).toHaveLength(3);
  });

  test('the answer lost (stored, then 503) or too late (past the timeout): the retry finds the stored one, still exactly one', async () => {
    gpSystem.storeThenFail = 1;
    const lost = await storeCommunication();
    await service.app.services.deliveries.add({ communicationId: lost.id, practiceAgb: BEARER_AGB });
    await eventually(() => callsFor(lost.value).length >= 2);

    gpSystem.storeThenStall = 1;
    gpSystem.stallMs = 1_000;
    const late = await storeCommunication();
    const started = Date.now();
    await service.app.services.deliveries.add({ communicationId: late.id, practiceAgb: BEARER_AGB });
    await eventually(() => callsFor(late.value).length >= 2);
    expect(Date.now() - started).toBeLessThan(1_000); // the first call was abandoned at the timeout

    await sleep(300);
    for (const { value } of [lost, late]) {
      expect(callsFor(value)).toHaveLength(2);
      expect(storedFor(value)).toBe(1);
    }
    expect((await parkedList()).map((entry) => entry.communicationId)).not.toEqual(expect.arrayContaining([lost.id, late.id]));
  });

  test('a GP system that is down for a while gets it once when it comes back', async () => {
    await gpSystem.stop();
    const { id, value } = await storeCommunication();
    await service.app.services.deliveries.add({ communicationId: id, practiceAgb: BEARER_AGB });
    await sleep(120); // one or two attempts fail on a closed port, fewer than all four
    await gpSystem.start();
    await eventually(() => storedFor(value) === 1);
    await sleep(300);
    expect(callsFor(value)).toHaveLength(1);
  });

  test.each([400, 401, 403, 404, 422])('a %i answer parks the delivery at once, without a retry', async (status) => {
    gpSystem.refuseWith = status;
    const { id, value } = await storeCommunication();
    await service.app.services.deliveries.add({ communicationId: id, practiceAgb: BEARER_AGB });
    const parked = await parkedEntry(id);
    expect(parked).toMatchObject({ communicationId: id, practiceAgb: BEARER_AGB, attempts: 1, reason: `HTTP ${status}` });
    await sleep(200);
    expect(callsFor(value)).toHaveLength(1);
    expect(storedFor(value)).toBe(0);
  });

  test('down beyond the last retry: parked and listed; re-delivered once the operator asks, still exactly once', async () => {
    await gpSystem.stop();
    const { id, value } = await storeCommunication();
    await service.app.services.deliveries.add({ communicationId: id, practiceAgb: BEARER_AGB, requestId: 'req-parked' });
    const parked = await parkedEntry(id);
    expect(parked).toMatchObject({ communicationId: id, practiceAgb: BEARER_AGB, attempts: ATTEMPTS, reason: 'network' });
    expect(JSON.stringify(parked)).not.toMatch(/Johanna|999990019|OperationOutcome/);

    await gpSystem.start();
    await sleep(200);
    expect(callsFor(value)).toHaveLength(0); // parked means parked: nothing until the operator asks

    const redelivered = await service.request('POST', `/operator/deliveries/${id}/redeliver`, { token: operator });
    expect(redelivered.status).toBe(202);
    await eventually(() => storedFor(value) === 1);
    expect(callsFor(value)).toHaveLength(1);
    expect(callsFor(value)[0]!.requestId).toBe('req-parked');
    await eventually(async () => !(await parkedList()).some((entry) => entry.communicationId === id));

    const again = await service.request('POST', `/operator/deliveries/${id}/redeliver`, { token: operator });
    expect(again.status).toBe(404);
    expect(again.body.resourceType).toBe('OperationOutcome');
    await sleep(200);
    expect(callsFor(value)).toHaveLength(1);
  });

  test('a re-delivery that fails again is parked again with a fresh set of attempts', async () => {
    gpSystem.refuseWith = 400;
    const { id, value } = await storeCommunication();
    await service.app.services.deliveries.add({ communicationId: id, practiceAgb: BEARER_AGB });
    await parkedEntry(id);
    gpSystem.refuseWith = undefined;
    gpSystem.failWith = Array(ATTEMPTS).fill(503);
    expect((await service.request('POST', `/operator/deliveries/${id}/redeliver`, { token: operator })).status).toBe(202);
    const parked = await eventually(async () => (await parkedList()).find((entry) => entry.communicationId === id && entry.reason === 'HTTP 503'));
    expect(parked.attempts).toBe(ATTEMPTS);
    expect(callsFor(value)).toHaveLength(1 + ATTEMPTS);
    expect((await service.request('POST', `/operator/deliveries/${id}/redeliver`, { token: operator })).status).toBe(202);
    await eventually(() => storedFor(value) === 1);
  });

  test('a delivered Communication is recorded delivered in PostgreSQL, with its attempts', async () => {
    gpSystem.failWith = [503];
    const { id, value } = await storeCommunication();
    await service.app.services.deliveries.add({ communicationId: id, practiceAgb: BEARER_AGB, requestId: 'req-recorded' });
    await eventually(() => storedFor(value) === 1);
    const row = await eventually(async () => {
      const current = await deliveryRow(id);
      return current?.status === 'delivered' && current;
    });
    expect(row).toMatchObject({ communication_id: id, practice_agb: BEARER_AGB, request_id: 'req-recorded', status: 'delivered', attempts: 2, reason: null, parked_at: null });
    expect(row.delivered_at.getTime()).toBeGreaterThanOrEqual(row.created_at.getTime());
    // Nothing about it is left in Redis once the job has ended.
    await eventually(async () => !(await service.keys('bull:feedback-delivery:*')).some((key) => key.includes(id)));
  });

  test('a parked delivery survives a Redis flush: still listed, and re-delivered once when the operator asks', async () => {
    gpSystem.refuseWith = 422;
    const { id, value } = await storeCommunication();
    await service.app.services.deliveries.add({ communicationId: id, practiceAgb: BEARER_AGB });
    await parkedEntry(id);
    gpSystem.refuseWith = undefined;

    await flushRedis();
    const parked = (await parkedList()).find((entry) => entry.communicationId === id);
    expect(parked).toMatchObject({ communicationId: id, practiceAgb: BEARER_AGB, attempts: 1, reason: 'HTTP 422' });
    expect(Date.parse(parked.parkedAt)).toBeLessThanOrEqual(Date.now());

    // A rebuild does not touch parked deliveries: parked means parked until the operator asks.
    await service.app.services.deliveries.rebuild();
    await sleep(200);
    expect(callsFor(value)).toHaveLength(1);

    const [first, second] = await Promise.all([1, 2].map(() => service.request('POST', `/operator/deliveries/${id}/redeliver`, { token: operator })));
    expect([first!.status, second!.status].sort()).toEqual([202, 404]);
    await eventually(() => storedFor(value) === 1);
    await eventually(async () => (await deliveryRow(id))?.status === 'delivered');
    await sleep(200);
    expect(callsFor(value)).toHaveLength(2);
    expect((await parkedList()).some((entry) => entry.communicationId === id)).toBe(false);
  });

  test('Redis flushed while a delivery is pending: rebuild() queues it again and it is delivered exactly once', async () => {
    await gpSystem.stop();
    const { id, value } = await storeCommunication();
    await service.app.services.deliveries.add({ communicationId: id, practiceAgb: BEARER_AGB });
    // The first attempt failed and the job waits for its retry (well before the last one).
    await eventually(async () => (await deliveryRow(id))?.attempts >= 1);
    await flushRedis();
    await gpSystem.start();
    await sleep(300);
    expect(await deliveryRow(id)).toMatchObject({ status: 'pending' }); // the job went with Redis
    expect(callsFor(value)).toHaveLength(0);

    expect(await service.app.services.deliveries.rebuild()).toBeGreaterThanOrEqual(1);
    await service.app.services.deliveries.rebuild(); // twice is harmless: same job id
    await eventually(() => storedFor(value) === 1);
    await eventually(async () => (await deliveryRow(id))?.status === 'delivered');
    await service.app.services.deliveries.rebuild(); // after delivery: nothing pending, nothing sent
    await sleep(300);
    expect(callsFor(value)).toHaveLength(1);
  });

  test('the operator routes are for operators only, with OperationOutcome errors', async () => {
    const gp = await service.token('gp', BEARER_AGB);
    expect((await service.request('GET', '/operator/deliveries?state=failed')).status).toBe(401);
    const forbidden = await service.request('GET', '/operator/deliveries?state=failed', { token: gp });
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.resourceType).toBe('OperationOutcome');
    expect((await service.request('POST', `/operator/deliveries/${randomUUID()}/redeliver`, { token: gp })).status).toBe(403);
    const unknown = await service.request('POST', `/operator/deliveries/${randomUUID()}/redeliver`, { token: operator });
    expect(unknown.status).toBe(404);
    expect(unknown.body.resourceType).toBe('OperationOutcome');
  });

  test('a practice without an endpoint in the directory: nothing is called', async () => {
    const calls = gpSystem.calls.length;
    const { id } = await storeCommunication(NO_ENDPOINT_AGB);
    await service.app.services.deliveries.add({ communicationId: id, practiceAgb: NO_ENDPOINT_AGB });
    await sleep(300);
    expect(gpSystem.calls.length).toBe(calls);
  });

  test('SMART backend services with a PEM key: a verified client assertion buys a token, which is reused', async () => {
    const tokenRequests = gpSystem.tokenRequests;
    const first = await storeCommunication(SMART_AGB);
    const second = await storeCommunication(SMART_AGB);
    await service.app.services.deliveries.add({ communicationId: first.id, practiceAgb: SMART_AGB });
    await eventually(() => storedFor(first.value) === 1);
    const token = callsFor(first.value)[0]!.authorization;
    expect(token).toMatch(/^Bearer smart-\d+$/);
    gpSystem.requiredToken = token!.slice('Bearer '.length);
    await service.app.services.deliveries.add({ communicationId: second.id, practiceAgb: SMART_AGB });
    await eventually(() => storedFor(second.value) === 1);
    expect(callsFor(second.value)[0]!.authorization).toBe(token);
    expect(gpSystem.tokenRequests - tokenRequests).toBe(1);
    expect(gpSystem.tokenErrors).toEqual([]);
  });

  test('metrics: deliveries by outcome, latency, parked count', async () => {
    const metrics = await service.request('GET', '/metrics', { token: operator });
    expect(metrics.status).toBe(200);
    expect(metrics.body).toMatch(/wor_feedback_deliveries_total\{outcome="delivered"\} [1-9]/);
    expect(metrics.body).toMatch(/wor_feedback_deliveries_total\{outcome="retry"\} [1-9]/);
    expect(metrics.body).toMatch(/wor_feedback_deliveries_total\{outcome="parked"\} [1-9]/);
    expect(metrics.body).toMatch(/wor_feedback_delivery_seconds_count [1-9]/);
    const parked = Number(/wor_feedback_deliveries_parked (\d+)/.exec(metrics.body)?.[1]);
    expect(parked).toBe((await parkedList()).length);
  });
});
