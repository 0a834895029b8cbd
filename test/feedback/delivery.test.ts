import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { exportJWK, generateKeyPair } from 'jose';
import { PRACTICE_AGB } from '../fixtures/referral.js';
import { expectValidFhir } from '../support/fhir-validation.js';
import { GpFhirServer } from '../support/gp-fhir-server.js';
import { claimAndAnswer, submitReferral } from '../support/referrals.js';
import { startService, type TestService } from '../support/service.js';

const OTHER_AGB = '01067890';
const gpServer = new GpFhirServer();
let service: TestService;
let gp: string;
let otherGp: string;
let coach: string;
let operator: string;

beforeAll(async () => {
  await gpServer.start();
  const { publicKey, privateKey } = await generateKeyPair('ES384', { extractable: true });
  const keyFile = join(mkdtempSync(join(tmpdir(), 'wor-smart-')), 'client.jwk.json');
  writeFileSync(keyFile, JSON.stringify({ ...(await exportJWK(privateKey)), alg: 'ES384', kid: 'test' }));
  gpServer.clientKey = { key: publicKey, clientId: 'wor-bridge-merenwijk', tokenPath: '/token' };
  process.env.TEST_GP_TOKEN = 'de-linde-secret';
  const directoryYaml = `
teams:
  - { id: leiden-noord, name: Sociaal Wijkteam Leiden Noord, municipality: Leiden, postcodes: ["2311-2316"] }
practices:
  - agb: "${PRACTICE_AGB}"
    name: Huisartsenpraktijk De Linde
    fhirEndpoint: { url: "${gpServer.baseUrl}", auth: { type: bearer, tokenEnv: TEST_GP_TOKEN } }
  - agb: "${OTHER_AGB}"
    name: Gezondheidscentrum Merenwijk
    fhirEndpoint:
      url: "${gpServer.baseUrl}"
      auth: { type: smart-backend, client_id: wor-bridge-merenwijk, tokenUrl: "http://127.0.0.1:${gpServer.port}/token", keyFile: "${keyFile}" }
`;
  service = await startService({ directoryYaml, env: { DELIVERY_ATTEMPTS: '4', DELIVERY_BACKOFF_MS: '100' } });
  gp = await service.token('gp', PRACTICE_AGB);
  otherGp = await service.token('gp', OTHER_AGB);
  coach = await service.token('coach', 'leiden-noord');
  operator = await service.token('operator', 'regio');
});
afterEach(() => {
  gpServer.redirectTo = undefined;
  gpServer.failNext = 0;
  gpServer.refuseWith = undefined;
  gpServer.requiredToken = undefined;
});
afterAll(async () => {
  await service.close();
  await gpServer.stop();
});

const accept = (taskId: string) => claimAndAnswer(service, coach, taskId, { status: 'accepted' }, { 'x-request-id': `ack-${taskId}` });

const deliveredFor = (taskId: string) => [...gpServer.communications.entries()].filter(([identifier]) => identifier.endsWith(`|${taskId}/accepted`));

async function eventually(check: () => boolean, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('delivery of feedback to the GP system', () => {
  test('an acceptance is delivered once, by conditional create, with the bearer token and the request id', async () => {
    gpServer.requiredToken = 'de-linde-secret';
    const { taskId } = await submitReferral(service, gp);
    await accept(taskId);
    await eventually(() => deliveredFor(taskId).length === 1);
    const [[identifier, communication]] = deliveredFor(taskId) as [[string, any]];
    expect(identifier).toBe(`https://wor-bridge.nl/fhir/NamingSystem/communication|${taskId}/accepted`);
    const call = gpServer.calls.at(-1)!;
    expect(call.authorization).toBe('Bearer de-linde-secret');
    expect(call.ifNoneExist).toBe(`identifier=${identifier}`);
    expect(call.requestId).toBe(`ack-${taskId}`);
    expectValidFhir({ ...communication, id: 'x', meta: { profile: ['https://wor-bridge.nl/fhir/StructureDefinition/wor-communication'] } });
  });

  test('a delivered Communication is recorded delivered in PostgreSQL', async () => {
    const { taskId } = await submitReferral(service, gp);
    await accept(taskId);
    await eventually(() => deliveredFor(taskId).length === 1);
    const delivered = async () => (await service.db.query('SELECT * FROM delivery WHERE request_id = $1', [`ack-${taskId}`])).rows;
    for (let i = 0; i < 100 && (await delivered())[0]?.status !== 'delivered'; i += 1) await new Promise((resolve) => setTimeout(resolve, 50));
    const [row, ...more] = await delivered();
    expect(more).toHaveLength(0);
    expect(row).toMatchObject({ practice_agb: PRACTICE_AGB, status: 'delivered', attempts: 1, reason: null, parked_at: null });
    expect(row.delivered_at).toBeInstanceOf(Date);
  });

  test('a GP system that answers 503 twice gets the Communication on the third try, once', async () => {
    gpServer.failNext = 2;
    const { taskId } = await submitReferral(service, gp);
    await accept(taskId);
    await eventually(() => deliveredFor(taskId).length === 1);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(deliveredFor(taskId)).toHaveLength(1);
    expect(gpServer.failNext).toBe(0);
  });

  test('a GP system that is down for a while gets the Communication once it is back', async () => {
    const port = gpServer.port;
    await gpServer.stop();
    const { taskId } = await submitReferral(service, gp);
    await accept(taskId);
    await new Promise((resolve) => setTimeout(resolve, 400));
    await gpServer.start(port);
    await eventually(() => deliveredFor(taskId).length === 1);
  });

  test('a 400 answer parks the delivery at once; an operator sees it and delivers it again, still exactly once', async () => {
    gpServer.refuseWith = 400;
    const { taskId } = await submitReferral(service, gp);
    const before = gpServer.calls.length;
    await accept(taskId);
    let parked: any[] = [];
    for (let i = 0; i < 100 && parked.length === 0; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      parked = (await service.request('GET', '/operator/deliveries', { token: operator })).body.parked.filter((item: any) => item.practiceAgb === PRACTICE_AGB && item.reason === 'HTTP 400');
    }
    expect(parked).toHaveLength(1);
    expect(gpServer.calls.length - before).toBe(1);
    gpServer.refuseWith = undefined;
    const redelivered = await service.request('POST', `/operator/deliveries/${parked[0].communicationId}/redeliver`, { token: operator });
    expect(redelivered.status).toBe(202);
    await eventually(() => deliveredFor(taskId).length === 1);
    expect((await service.request('POST', `/operator/deliveries/${parked[0].communicationId}/redeliver`, { token: operator })).status).toBe(404);
  });

  test('a GP system down beyond the last retry: parked, visible, and delivered once when an operator asks', async () => {
    gpServer.failNext = 100;
    const { taskId } = await submitReferral(service, gp);
    await accept(taskId);
    let parked: any[] = [];
    for (let i = 0; i < 200 && parked.length === 0; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      parked = (await service.request('GET', '/operator/deliveries', { token: operator })).body.parked.filter((item: any) => item.reason === 'HTTP 503');
    }
    expect(parked).toHaveLength(1);
    expect(parked[0].attempts).toBe(4);
    gpServer.failNext = 0;
    await service.request('POST', `/operator/deliveries/${parked[0].communicationId}/redeliver`, { token: operator });
    await eventually(() => deliveredFor(taskId).length === 1);
    const metrics = await service.request('GET', '/metrics', { token: operator });
    expect(metrics.body).toMatch(/wor_feedback_deliveries_total\{outcome="parked"\} [1-9]/);
    expect(metrics.body).toMatch(/wor_feedback_deliveries_total\{outcome="delivered"\} [1-9]/);
  });

  test('SMART backend services: the service buys an access token with a signed client assertion', async () => {
    gpServer.requiredToken = 'smart-access-token';
    const { taskId } = await submitReferral(service, otherGp, { requester: { agb: '01012345', name: 'B. de Vries', practice: { agb: OTHER_AGB } } });
    await accept(taskId);
    await eventually(() => deliveredFor(taskId).length === 1);
    expect(gpServer.calls.at(-1)!.authorization).toBe('Bearer smart-access-token');
  });

  test('a redirect from the GP system is not followed: the Communication goes nowhere but the directory URL', async () => {
    const elsewhere = new GpFhirServer();
    await elsewhere.start();
    gpServer.redirectTo = `${elsewhere.baseUrl}/Communication`;
    const { taskId } = await submitReferral(service, gp);
    await accept(taskId);
    await new Promise((resolve) => setTimeout(resolve, 800));
    expect(elsewhere.calls).toHaveLength(0);
    expect(deliveredFor(taskId)).toHaveLength(0);
    await elsewhere.stop();
  });

  test('the URL is taken from the directory only: a practice without endpoint pulls, nothing is sent', async () => {
    const calls = gpServer.calls.length;
    const walkIn = await service.token('gp', '01099999');
    const { taskId } = await submitReferral(service, walkIn, { requester: { agb: '01012345', practice: { agb: '01099999' } } });
    await accept(taskId);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(gpServer.calls.length).toBe(calls);
  });
});
