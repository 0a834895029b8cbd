import { generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import type { Communication } from 'fhir/r4.js';
import { jwtVerify } from 'jose';
import { startService, type TestService } from '../support/service.js';

/**
 * The DeliveryQueue on its own: Communications written straight into the store and handed to
 * `app.deliveries.add`, delivered to a small but real FHIR server standing in for the GP system.
 */

const SYSTEM = 'https://wor-bridge.nl/fhir/NamingSystem/communication';
const BEARER_AGB = '01054321';
const SMART_AGB = '01067890';
const NO_ENDPOINT_AGB = '01099999';
const ATTEMPTS = 4;

interface Call {
  path: string;
  authorization?: string;
  requestId?: string;
  ifNoneExist?: string;
  identifier?: string;
}

/** A GP system: stores Communications, honours If-None-Exist on identifier, and misbehaves on request. */
class GpSystem {
  readonly stored = new Map<string, Record<string, unknown>>();
  readonly calls: Call[] = [];
  tokenRequests = 0;
  readonly tokenErrors: string[] = [];
  /** Status codes to answer with, one per call, before behaving. */
  failWith: number[] = [];
  refuseWith: number | undefined;
  requiredToken: string | undefined;
  /** Store the next N Communications but answer 503 (the answer is lost on the way back). */
  storeThenFail = 0;
  /** Store the next N Communications but answer only after this long (past the caller's timeout). */
  storeThenStall = 0;
  stallMs = 0;
  smart: { key: KeyObject; clientId: string } | undefined;
  port = 0;
  private server: Server | undefined;

  async start(port = this.port): Promise<void> {
    this.server = createServer((request, response) => void this.handle(request, response));
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }

  reset(): void {
    this.failWith = [];
    this.refuseWith = undefined;
    this.requiredToken = undefined;
    this.storeThenFail = 0;
    this.storeThenStall = 0;
  }

  callsFor(value: string): Call[] {
    return this.calls.filter((call) => call.identifier === `${SYSTEM}|${value}`);
  }

  storedFor(value: string): number {
    return this.stored.has(`${SYSTEM}|${value}`) ? 1 : 0;
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const send = (status: number, json: unknown, type = 'application/fhir+json') => {
      if (response.destroyed) return;
      response.writeHead(status, { 'content-type': type });
      response.end(JSON.stringify(json));
    };
    if (request.method === 'POST' && request.url === '/token') {
      this.tokenRequests += 1;
      const form = new URLSearchParams(body);
      if (!this.smart) return send(400, { error: 'unsupported' }, 'application/json');
      if (form.get('grant_type') !== 'client_credentials') return send(400, { error: 'unsupported_grant_type' }, 'application/json');
      if (form.get('client_assertion_type') !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer') return send(400, { error: 'invalid_request' }, 'application/json');
      if (form.get('scope') !== 'system/Communication.c') return send(400, { error: 'invalid_scope' }, 'application/json');
      try {
        const { payload } = await jwtVerify(form.get('client_assertion') ?? '', this.smart.key, {
          issuer: this.smart.clientId,
          subject: this.smart.clientId,
          audience: `http://127.0.0.1:${this.port}/token`,
          requiredClaims: ['exp', 'jti'],
        });
        // SMART Backend Services: exp no more than five minutes in the future.
        if (payload.exp! > Date.now() / 1000 + 300 + 5) throw new Error('exp too far');
      } catch (error) {
        this.tokenErrors.push((error as Error).message);
        return send(401, { error: 'invalid_client' }, 'application/json');
      }
      return send(200, { access_token: `smart-${this.tokenRequests}`, token_type: 'bearer', expires_in: 300, scope: 'system/Communication.c' }, 'application/json');
    }
    if (request.method !== 'POST' || request.url !== '/fhir/Communication') return send(404, { resourceType: 'OperationOutcome' });

    const resource = JSON.parse(body) as Communication;
    const identifier = resource.identifier?.[0];
    const call: Call = {
      path: request.url,
      authorization: request.headers.authorization,
      requestId: request.headers['x-request-id'] as string | undefined,
      ifNoneExist: request.headers['if-none-exist'] as string | undefined,
      identifier: identifier ? `${identifier.system}|${identifier.value}` : undefined,
    };
    this.calls.push(call);
    if (this.requiredToken && request.headers.authorization !== `Bearer ${this.requiredToken}`) return send(401, { resourceType: 'OperationOutcome' });
    if (this.refuseWith) return send(this.refuseWith, { resourceType: 'OperationOutcome' });
    const failure = this.failWith.shift();
    if (failure) return send(failure, { resourceType: 'OperationOutcome' });

    // Conditional create: If-None-Exist: identifier=<system>|<value>
    const criteria = new URLSearchParams(call.ifNoneExist ?? '').get('identifier');
    const existing = criteria ? this.stored.get(criteria) : undefined;
    if (existing) return send(200, existing);
    const created = { ...resource, id: `gp-${this.stored.size + 1}` };
    this.stored.set(criteria ?? created.id, created);
    if (this.storeThenFail > 0) {
      this.storeThenFail -= 1;
      return send(503, { resourceType: 'OperationOutcome' });
    }
    if (this.storeThenStall > 0) {
      this.storeThenStall -= 1;
      await new Promise((resolve) => setTimeout(resolve, this.stallMs));
    }
    return send(201, created);
  }
}

const gpSystem = new GpSystem();
let service: TestService;
let operator: string;

beforeAll(async () => {
  await gpSystem.start();
  // SMART backend with an RSA key as PKCS#8 PEM (the other delivery test uses an ES384 JWK).
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyFile = join(mkdtempSync(join(tmpdir(), 'wor-smart-')), 'client.pem');
  writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
  gpSystem.smart = { key: publicKey, clientId: 'wor-bridge-test' };
  process.env.TEST_GP_TOKEN = 'gp-bearer-secret';
  const directoryYaml = `
teams:
  - { id: leiden-noord, name: Sociaal Wijkteam Leiden Noord, municipality: Leiden, postcodes: ["2311-2316"] }
practices:
  - agb: "${BEARER_AGB}"
    name: Huisartsenpraktijk De Linde
    fhirEndpoint: { url: "http://127.0.0.1:${gpSystem.port}/fhir", auth: { type: bearer, tokenEnv: TEST_GP_TOKEN } }
  - agb: "${SMART_AGB}"
    name: Gezondheidscentrum Merenwijk
    fhirEndpoint:
      url: "http://127.0.0.1:${gpSystem.port}/fhir"
      auth: { type: smart-backend, client_id: wor-bridge-test, tokenUrl: "http://127.0.0.1:${gpSystem.port}/token", keyFile: "${keyFile}" }
  - agb: "${NO_ENDPOINT_AGB}"
    name: Huisartsenpraktijk Zonder Koppeling
`;
  service = await startService({
    directoryYaml,
    env: { DELIVERY_ATTEMPTS: String(ATTEMPTS), DELIVERY_BACKOFF_MS: '50', DELIVERY_TIMEOUT_MS: '400' },
  });
  operator = await service.token('operator', 'regio');
});

afterEach(() => gpSystem.reset());

afterAll(async () => {
  await service?.close();
  await gpSystem.stop();
});

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
  const value = `${randomUUID()}/accepted`;
  const communication: Communication = {
    resourceType: 'Communication',
    id,
    status: 'completed',
    identifier: [{ system: SYSTEM, value }],
    basedOn: [{ reference: `ServiceRequest/${randomUUID()}` }],
    subject: { reference: `Patient/${randomUUID()}` },
    recipient: [{ reference: `PractitionerRole/${randomUUID()}` }],
    sender: { reference: 'Organization/team-leiden-noord' },
    sent: new Date().toISOString(),
    // Patient data on purpose: it must reach the GP system and never a log line.
    payload: [{ contentString: 'Johanna van der Berg (BSN 999990019), Breestraat 1, 2311 CS Leiden: aangemeld.' }],
  };
  await service.app.store.commit({ writes: [{ resource: communication, acl: [`gp:${agb}`] }] });
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
    await service.app.deliveries.add({ communicationId: id, practiceAgb: BEARER_AGB, requestId: 'req-direct-1' });
    await eventually(() => gpSystem.storedFor(value) === 1);
    const [call, ...more] = gpSystem.callsFor(value);
    expect(more).toHaveLength(0);
    expect(call).toEqual({
      path: '/fhir/Communication',
      authorization: 'Bearer gp-bearer-secret',
      requestId: 'req-direct-1',
      ifNoneExist: `identifier=${SYSTEM}|${value}`,
      identifier: `${SYSTEM}|${value}`,
    });
    const received = gpSystem.stored.get(`${SYSTEM}|${value}`) as unknown as Communication;
    expect(received.payload?.[0]?.contentString).toContain('Johanna van der Berg');
    expect(received.subject?.reference).toMatch(/^Patient\//);

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
    await Promise.all([service.app.deliveries.add(entry), service.app.deliveries.add(entry)]);
    await eventually(() => gpSystem.storedFor(value) === 1);
    await service.app.deliveries.add(entry);
    await sleep(300);
    expect(gpSystem.callsFor(value)).toHaveLength(1);
  });

  test('503 twice, then accepted: one Communication at the GP system, after three calls', async () => {
    gpSystem.failWith = [503, 503];
    const { id, value } = await storeCommunication();
    await service.app.deliveries.add({ communicationId: id, practiceAgb: BEARER_AGB });
    await eventually(() => gpSystem.storedFor(value) === 1);
    await sleep(300);
    expect(gpSystem.callsFor(value)).toHaveLength(3);
    expect(gpSystem.stored.has(`${SYSTEM}|${value}`)).toBe(true);
  });

  test('429 and 502 are retried too', async () => {
    gpSystem.failWith = [429, 502];
    const { id, value } = await storeCommunication();
    await service.app.deliveries.add({ communicationId: id, practiceAgb: BEARER_AGB });
    await eventually(() => gpSystem.storedFor(value) === 1);
    expect(gpSystem.callsFor(value)).toHaveLength(3);
  });

  test('the answer lost (stored, then 503) or too late (past the timeout): the retry finds the stored one, still exactly one', async () => {
    gpSystem.storeThenFail = 1;
    const lost = await storeCommunication();
    await service.app.deliveries.add({ communicationId: lost.id, practiceAgb: BEARER_AGB });
    await eventually(() => gpSystem.callsFor(lost.value).length >= 2);

    gpSystem.storeThenStall = 1;
    gpSystem.stallMs = 1_000;
    const late = await storeCommunication();
    const started = Date.now();
    await service.app.deliveries.add({ communicationId: late.id, practiceAgb: BEARER_AGB });
    await eventually(() => gpSystem.callsFor(late.value).length >= 2);
    expect(Date.now() - started).toBeLessThan(1_000); // the first call was abandoned at the timeout

    await sleep(300);
    for (const { value } of [lost, late]) {
      expect(gpSystem.callsFor(value)).toHaveLength(2);
      expect([...gpSystem.stored.keys()].filter((key) => key === `${SYSTEM}|${value}`)).toHaveLength(1);
    }
    expect((await parkedList()).map((entry) => entry.communicationId)).not.toEqual(expect.arrayContaining([lost.id, late.id]));
  });

  test('a GP system that is down for a while gets it once when it comes back', async () => {
    await gpSystem.stop();
    const { id, value } = await storeCommunication();
    await service.app.deliveries.add({ communicationId: id, practiceAgb: BEARER_AGB });
    await sleep(120); // one or two attempts fail on a closed port, fewer than all four
    await gpSystem.start();
    await eventually(() => gpSystem.storedFor(value) === 1);
    await sleep(300);
    expect(gpSystem.callsFor(value)).toHaveLength(1);
  });

  test.each([400, 401, 403, 404, 422])('a %i answer parks the delivery at once, without a retry', async (status) => {
    gpSystem.refuseWith = status;
    const { id, value } = await storeCommunication();
    await service.app.deliveries.add({ communicationId: id, practiceAgb: BEARER_AGB });
    const parked = await parkedEntry(id);
    expect(parked).toMatchObject({ communicationId: id, practiceAgb: BEARER_AGB, attempts: 1, reason: `HTTP ${status}` });
    await sleep(200);
    expect(gpSystem.callsFor(value)).toHaveLength(1);
    expect(gpSystem.storedFor(value)).toBe(0);
  });

  test('down beyond the last retry: parked and listed; re-delivered once the operator asks, still exactly once', async () => {
    await gpSystem.stop();
    const { id, value } = await storeCommunication();
    await service.app.deliveries.add({ communicationId: id, practiceAgb: BEARER_AGB, requestId: 'req-parked' });
    const parked = await parkedEntry(id);
    expect(parked).toMatchObject({ communicationId: id, practiceAgb: BEARER_AGB, attempts: ATTEMPTS, reason: 'network' });
    expect(JSON.stringify(parked)).not.toMatch(/Johanna|999990019|OperationOutcome/);

    await gpSystem.start();
    await sleep(200);
    expect(gpSystem.callsFor(value)).toHaveLength(0); // parked means parked: nothing until the operator asks

    const redelivered = await service.request('POST', `/operator/deliveries/${id}/redeliver`, { token: operator });
    expect(redelivered.status).toBe(202);
    await eventually(() => gpSystem.storedFor(value) === 1);
    expect(gpSystem.callsFor(value)).toHaveLength(1);
    expect(gpSystem.callsFor(value)[0]!.requestId).toBe('req-parked');
    await eventually(async () => !(await parkedList()).some((entry) => entry.communicationId === id));

    const again = await service.request('POST', `/operator/deliveries/${id}/redeliver`, { token: operator });
    expect(again.status).toBe(404);
    expect(again.body.resourceType).toBe('OperationOutcome');
    await sleep(200);
    expect(gpSystem.callsFor(value)).toHaveLength(1);
  });

  test('a re-delivery that fails again is parked again with a fresh set of attempts', async () => {
    gpSystem.refuseWith = 400;
    const { id, value } = await storeCommunication();
    await service.app.deliveries.add({ communicationId: id, practiceAgb: BEARER_AGB });
    await parkedEntry(id);
    gpSystem.refuseWith = undefined;
    gpSystem.failWith = Array(ATTEMPTS).fill(503);
    expect((await service.request('POST', `/operator/deliveries/${id}/redeliver`, { token: operator })).status).toBe(202);
    const parked = await eventually(async () => (await parkedList()).find((entry) => entry.communicationId === id && entry.reason === 'HTTP 503'));
    expect(parked.attempts).toBe(ATTEMPTS);
    expect(gpSystem.callsFor(value)).toHaveLength(1 + ATTEMPTS);
    expect((await service.request('POST', `/operator/deliveries/${id}/redeliver`, { token: operator })).status).toBe(202);
    await eventually(() => gpSystem.storedFor(value) === 1);
  });

  test('a delivered Communication is recorded delivered in PostgreSQL, with its attempts', async () => {
    gpSystem.failWith = [503];
    const { id, value } = await storeCommunication();
    await service.app.deliveries.add({ communicationId: id, practiceAgb: BEARER_AGB, requestId: 'req-recorded' });
    await eventually(() => gpSystem.storedFor(value) === 1);
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
    await service.app.deliveries.add({ communicationId: id, practiceAgb: BEARER_AGB });
    await parkedEntry(id);
    gpSystem.refuseWith = undefined;

    await flushRedis();
    const parked = (await parkedList()).find((entry) => entry.communicationId === id);
    expect(parked).toMatchObject({ communicationId: id, practiceAgb: BEARER_AGB, attempts: 1, reason: 'HTTP 422' });
    expect(Date.parse(parked.parkedAt)).toBeLessThanOrEqual(Date.now());

    // A rebuild does not touch parked deliveries: parked means parked until the operator asks.
    await service.app.deliveries.rebuild();
    await sleep(200);
    expect(gpSystem.callsFor(value)).toHaveLength(1);

    const [first, second] = await Promise.all([1, 2].map(() => service.request('POST', `/operator/deliveries/${id}/redeliver`, { token: operator })));
    expect([first!.status, second!.status].sort()).toEqual([202, 404]);
    await eventually(() => gpSystem.storedFor(value) === 1);
    await eventually(async () => (await deliveryRow(id))?.status === 'delivered');
    await sleep(200);
    expect(gpSystem.callsFor(value)).toHaveLength(2);
    expect((await parkedList()).some((entry) => entry.communicationId === id)).toBe(false);
  });

  test('Redis flushed while a delivery is pending: rebuild() queues it again and it is delivered exactly once', async () => {
    await gpSystem.stop();
    const { id, value } = await storeCommunication();
    await service.app.deliveries.add({ communicationId: id, practiceAgb: BEARER_AGB });
    // The first attempt failed and the job waits for its retry (well before the last one).
    await eventually(async () => (await deliveryRow(id))?.attempts >= 1);
    await flushRedis();
    await gpSystem.start();
    await sleep(300);
    expect(await deliveryRow(id)).toMatchObject({ status: 'pending' }); // the job went with Redis
    expect(gpSystem.callsFor(value)).toHaveLength(0);

    expect(await service.app.deliveries.rebuild()).toBeGreaterThanOrEqual(1);
    await service.app.deliveries.rebuild(); // twice is harmless: same job id
    await eventually(() => gpSystem.storedFor(value) === 1);
    await eventually(async () => (await deliveryRow(id))?.status === 'delivered');
    await service.app.deliveries.rebuild(); // after delivery: nothing pending, nothing sent
    await sleep(300);
    expect(gpSystem.callsFor(value)).toHaveLength(1);
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
    await service.app.deliveries.add({ communicationId: id, practiceAgb: NO_ENDPOINT_AGB });
    await sleep(300);
    expect(gpSystem.calls.length).toBe(calls);
  });

  test('SMART backend services with a PEM key: a verified client assertion buys a token, which is reused', async () => {
    const tokenRequests = gpSystem.tokenRequests;
    const first = await storeCommunication(SMART_AGB);
    const second = await storeCommunication(SMART_AGB);
    await service.app.deliveries.add({ communicationId: first.id, practiceAgb: SMART_AGB });
    await eventually(() => gpSystem.storedFor(first.value) === 1);
    const token = gpSystem.callsFor(first.value)[0]!.authorization;
    expect(token).toMatch(/^Bearer smart-\d+$/);
    gpSystem.requiredToken = token!.slice('Bearer '.length);
    await service.app.deliveries.add({ communicationId: second.id, practiceAgb: SMART_AGB });
    await eventually(() => gpSystem.storedFor(second.value) === 1);
    expect(gpSystem.callsFor(second.value)[0]!.authorization).toBe(token);
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
