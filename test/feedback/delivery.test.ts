import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { exportJWK, generateKeyPair } from 'jose';
import { PRACTICE_AGB } from '../fixtures/referral.js';
import { expectValidFhir } from '../support/fhir-validation.js';
import { GpFhirServer } from '../support/gp-fhir-server.js';
import { claimAndAnswer, submitReferral } from '../support/referrals.js';
import { LEIDEN_NOORD } from '../support/directory.js';
import { withService } from '../support/service.js';
import { loadProfiles } from '../../src/fhir/profile-validator.js';

const OTHER_AGB = '01067890';
/** A practice whose GP system is configured to accept external references. */
const OPEN_AGB = '01077777';
const SYSTEM = 'https://wor-bridge.nl/fhir/NamingSystem/communication';
const BSN = { system: 'http://fhir.nl/fhir/NamingSystem/bsn', value: '999990019' };
const gpServer = new GpFhirServer();
const openServer = new GpFhirServer();
let keyFile: string;

// The validator's definitions take seconds to load on a busy machine: before the scenarios' clocks start.
beforeAll(() => void loadProfiles(), 120_000);
beforeAll(async () => {
  await gpServer.start();
  await openServer.start();
  openServer.allowExternalReferences = true;
  const { publicKey, privateKey } = await generateKeyPair('ES384', { extractable: true });
  keyFile = join(mkdtempSync(join(tmpdir(), 'wor-smart-')), 'client.jwk.json');
  writeFileSync(keyFile, JSON.stringify({ ...(await exportJWK(privateKey)), alg: 'ES384', kid: 'test' }));
  gpServer.smart = { key: publicKey, clientId: 'wor-bridge-merenwijk' };
  process.env.TEST_GP_TOKEN = 'de-linde-secret';
});
const { service, gp, otherGp, coach, operator } = await withService(
  {
    env: { DELIVERY_ATTEMPTS: '4', DELIVERY_BACKOFF_MS: '100' },
    tokens: { gp: ['gp', PRACTICE_AGB], otherGp: ['gp', OTHER_AGB], coach: ['coach', 'leiden-noord'], operator: ['operator', 'regio'] },
  },
  // The GP systems' addresses are known once they listen.
  () => ({
    directory: {
      teams: [LEIDEN_NOORD],
      practices: [
        { agb: PRACTICE_AGB, name: 'Huisartsenpraktijk De Linde', fhirEndpoint: { url: gpServer.baseUrl, auth: { type: 'bearer', tokenEnv: 'TEST_GP_TOKEN' } } },
        {
          agb: OTHER_AGB,
          name: 'Gezondheidscentrum Merenwijk',
          fhirEndpoint: { url: gpServer.baseUrl, auth: { type: 'smart-backend', client_id: 'wor-bridge-merenwijk', tokenUrl: gpServer.tokenUrl, keyFile } },
        },
        { agb: OPEN_AGB, name: 'Huisartsenpraktijk Open Koppeling', fhirEndpoint: { url: openServer.baseUrl, acceptsExternalReferences: true } },
      ],
    },
  }),
);
afterEach(() => gpServer.reset());
afterAll(async () => {
  await gpServer.stop();
  await openServer.stop();
});

const accept = (taskId: string) => claimAndAnswer(service, coach, taskId, { status: 'accepted' }, { 'x-request-id': `ack-${taskId}` });

const deliveredFor = (taskId: string, server = gpServer) => server.communications(`${SYSTEM}|${taskId}/accepted`);

async function eventually(check: () => boolean, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('delivery of feedback to the GP system', () => {
  test('an acceptance is stored by the HAPI-strict GP system on the first attempt: conditional create, logical references, meta.profile kept', async () => {
    gpServer.requiredToken = 'de-linde-secret';
    const { taskId, referralId } = await submitReferral(service, gp);
    await accept(taskId);
    await eventually(() => deliveredFor(taskId).length === 1);
    const calls = gpServer.callsFor(`${SYSTEM}|${taskId}/accepted`);
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({
      status: 201,
      authorization: 'Bearer de-linde-secret',
      ifNoneExist: `identifier=${encodeURIComponent(`${SYSTEM}|${taskId}/accepted`)}`,
      requestId: `ack-${taskId}`,
    });
    const [communication] = deliveredFor(taskId) as any[];
    expect(communication).toMatchObject({
      meta: { profile: ['https://wor-bridge.nl/fhir/StructureDefinition/wor-communication'] },
      identifier: [{ system: SYSTEM, value: `${taskId}/accepted` }],
      basedOn: [{ type: 'ServiceRequest', identifier: { system: `https://wor-bridge.nl/fhir/NamingSystem/referral/${PRACTICE_AGB}`, value: referralId }, display: `Verwijzing ${referralId}` }],
      subject: { type: 'Patient', identifier: BSN, display: 'Johanna van der Berg' },
      recipient: [
        { type: 'Practitioner', identifier: { system: 'http://fhir.nl/fhir/NamingSystem/agb-z', value: '01012345' }, display: 'A. Jansen' },
        { type: 'Organization', identifier: { system: 'http://fhir.nl/fhir/NamingSystem/agb-z', value: PRACTICE_AGB }, display: 'Huisartsenpraktijk De Linde' },
      ],
      sender: { type: 'Organization', identifier: { system: 'https://wor-bridge.nl/fhir/NamingSystem/team', value: 'leiden-noord' }, display: 'Sociaal Wijkteam Leiden Noord' },
    });
    // Nothing the GP system would have to resolve here: no literal reference at all, no Task.
    expect(JSON.stringify(communication)).not.toMatch(/"reference"/);
    expect(communication.about).toBeUndefined();
    expectValidFhir(communication);
    const [row] = (await service.db.query('SELECT status, attempts FROM delivery WHERE request_id = $1', [`ack-${taskId}`])).rows;
    expect(row).toEqual({ status: 'delivered', attempts: 1 });
  });

  test('the letter as stored here, with its relative references, would be refused by the same GP system (422): the defect this guards against', async () => {
    const { taskId, serviceRequestId } = await submitReferral(service, gp);
    await accept(taskId);
    const [stored] = (await service.request('GET', `/fhir/Communication?based-on=ServiceRequest/${serviceRequestId}`, { token: gp })).body.entry.map((entry: any) => entry.resource);
    const post = (body: unknown) => fetch(`${gpServer.baseUrl}/Communication`, { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify(body) });
    const relative = await post({ ...stored, id: undefined });
    expect(relative.status).toBe(422);
    expect((await relative.json()).issue[0].diagnostics).toMatch(/^Resource (ServiceRequest|Patient|Task|PractitionerRole|Organization)\/\S+ not found/);
    const absolute = await post({ ...stored, id: undefined, basedOn: [{ reference: `http://wor-bridge.test/fhir/ServiceRequest/${serviceRequestId}` }], subject: { identifier: BSN }, about: undefined, recipient: [{ identifier: BSN }], sender: { identifier: { value: 'x' } } });
    expect(absolute.status).toBe(422);
    expect((await absolute.json()).issue[0].diagnostics).toMatch(/not configured to allow external references/);
  });

  test('a GP system that accepts external references also gets the absolute URLs of what lives here, under PUBLIC_BASE_URL', async () => {
    const openGp = await service.token('gp', OPEN_AGB);
    const { taskId, serviceRequestId } = await submitReferral(service, openGp, { requester: { agb: '01012345', name: 'A. Jansen', practice: { agb: OPEN_AGB } } });
    await accept(taskId);
    await eventually(() => deliveredFor(taskId, openServer).length === 1);
    const [communication] = deliveredFor(taskId, openServer) as any[];
    expect(communication.basedOn[0]).toMatchObject({ reference: `http://wor-bridge.test/fhir/ServiceRequest/${serviceRequestId}`, identifier: { value: expect.any(String) } });
    expect(communication.subject).toMatchObject({ reference: expect.stringMatching(/^http:\/\/wor-bridge\.test\/fhir\/Patient\//), identifier: BSN });
    expect(communication.about).toEqual([{ reference: `http://wor-bridge.test/fhir/Task/${taskId}`, type: 'Task' }]);
    expect(communication.sender.reference).toBe('http://wor-bridge.test/fhir/Organization/team-leiden-noord');
    expect(openServer.callsFor(`${SYSTEM}|${taskId}/accepted`)).toMatchObject([{ status: 201 }]);
    expectValidFhir(communication);
  });

  test('the fake GP system behaves as HAPI does by default: conditional create with 0, 1 or more matches, type and JSON checked', async () => {
    const server = new GpFhirServer();
    await server.start();
    try {
      const post = (body: string, headers: Record<string, string> = {}) =>
        fetch(`${server.baseUrl}/Communication`, { method: 'POST', headers: { 'content-type': 'application/fhir+json', ...headers }, body });
      const letter = { resourceType: 'Communication', status: 'completed', identifier: [{ system: 'urn:x', value: '1' }] };
      const ifNoneExist = { 'if-none-exist': 'identifier=urn:x|1' };
      const created = await post(JSON.stringify(letter), ifNoneExist);
      expect(created.status).toBe(201);
      expect(created.headers.get('location')).toMatch(/\/Communication\/gp-\d+\/_history\/1$/);
      const again = await post(JSON.stringify(letter), ifNoneExist);
      expect(again.status).toBe(200);
      expect((await again.json()).id).toBe((await created.json()).id);
      await post(JSON.stringify(letter)); // a second one, without the condition
      expect((await post(JSON.stringify(letter), ifNoneExist)).status).toBe(412);
      expect((await post('{"resourceType":"Patient"}')).status).toBe(400);
      expect((await post('not json')).status).toBe(400);
      expect(server.communications('urn:x|1')).toHaveLength(2);
    } finally {
      await server.stop();
    }
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
    gpServer.failWith = [503, 503];
    const { taskId } = await submitReferral(service, gp);
    await accept(taskId);
    await eventually(() => deliveredFor(taskId).length === 1);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(deliveredFor(taskId)).toHaveLength(1);
    expect(gpServer.failWith).toEqual([]);
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

  test('a referral whose requester is no longer known cannot be addressed: the delivery parks as "recipient not found" and nothing is sent', async () => {
    const { taskId, serviceRequestId } = await submitReferral(service, gp);
    const requester: string = (await service.request('GET', `/fhir/ServiceRequest/${serviceRequestId}`, { token: gp })).body.requester.reference;
    const [type, id] = requester.split('/');
    // The PractitionerRole gone from the store, as if erased; the next referral of this practice writes it again.
    for (const table of ['search_index', 'resource_version', 'resource']) await service.db.query(`DELETE FROM ${table} WHERE resource_type = $1 AND id = $2`, [type, id]);
    const before = gpServer.calls.length;
    await accept(taskId);
    let parked: any[] = [];
    for (let i = 0; i < 100 && parked.length === 0; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      parked = (await service.request('GET', '/operator/deliveries', { token: operator })).body.parked.filter((item: any) => item.reason === 'recipient not found');
    }
    expect(parked).toEqual([expect.objectContaining({ practiceAgb: PRACTICE_AGB, attempts: 1, reason: 'recipient not found' })]);
    expect(gpServer.calls.length - before).toBe(0);
  });

  test('a GP system down beyond the last retry: parked, visible, and delivered once when an operator asks', async () => {
    gpServer.failWith = Array(100).fill(503);
    const { taskId } = await submitReferral(service, gp);
    await accept(taskId);
    let parked: any[] = [];
    for (let i = 0; i < 200 && parked.length === 0; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      parked = (await service.request('GET', '/operator/deliveries', { token: operator })).body.parked.filter((item: any) => item.reason === 'HTTP 503');
    }
    expect(parked).toHaveLength(1);
    expect(parked[0].attempts).toBe(4);
    gpServer.failWith = [];
    await service.request('POST', `/operator/deliveries/${parked[0].communicationId}/redeliver`, { token: operator });
    await eventually(() => deliveredFor(taskId).length === 1);
    const metrics = await service.request('GET', '/metrics', { token: operator });
    expect(metrics.body).toMatch(/wor_feedback_deliveries_total\{outcome="parked"\} [1-9]/);
    expect(metrics.body).toMatch(/wor_feedback_deliveries_total\{outcome="delivered"\} [1-9]/);
  });

  test('SMART backend services: the service buys an access token with a signed client assertion', async () => {
    const { taskId } = await submitReferral(service, otherGp, { requester: { agb: '01012345', name: 'B. de Vries', practice: { agb: OTHER_AGB } } });
    await accept(taskId);
    await eventually(() => deliveredFor(taskId).length === 1);
    expect(gpServer.calls.at(-1)!.authorization).toMatch(/^Bearer smart-\d+$/);
    expect(gpServer.tokenErrors).toEqual([]);
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
    const walkIn = await service.token('gp', '01099999');
    const { taskId } = await submitReferral(service, walkIn, { requester: { agb: '01012345', practice: { agb: '01099999' } } });
    await accept(taskId);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(gpServer.callsFor(`${SYSTEM}|${taskId}/accepted`)).toEqual([]);
    expect(openServer.callsFor(`${SYSTEM}|${taskId}/accepted`)).toEqual([]);
  });
});
