import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, test } from '@jest/globals';
import { exampleReferral, PRACTICE_AGB } from '../fixtures/referral.js';
import { expectValidFhir } from '../support/fhir-validation.js';
import { withService } from '../support/service.js';

const SECRET = 'portal-test-secret';
process.env.ZORGDOMEIN_HMAC_SECRET = SECRET;
const { service, portal, gp, coach, operator } = await withService({
  env: { INBOUND_RETRY_ATTEMPTS: '2', INBOUND_RETRY_BACKOFF_MS: '50' },
  tokens: { portal: ['portal', 'zorgdomein'], gp: ['gp', PRACTICE_AGB], coach: ['coach', 'leiden-noord'], operator: ['operator', 'regio'] },
});

const fixture = (name: string, changes: (document: any) => void = () => undefined) => {
  const document = JSON.parse(readFileSync(`test/fixtures/portal/${name}.json`, 'utf8'));
  changes(document);
  return document;
};
const sign = (body: string, secret = SECRET) => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

async function push(document: unknown, options: { signature?: string | null; path?: string; token?: string } = {}) {
  const rawBody = JSON.stringify(document);
  const signature = options.signature === undefined ? sign(rawBody) : options.signature;
  return service.request('POST', options.path ?? '/inbound/zorgdomein/Bundle', {
    token: options.token ?? portal,
    rawBody,
    headers: { 'content-type': 'application/fhir+json', ...(signature ? { 'x-signature': signature } : {}) },
  });
}

async function settled(statusUrl: string) {
  const path = statusUrl.replace('http://wor-bridge.test', '');
  for (let i = 0; i < 100; i += 1) {
    const response = await service.request('GET', path, { token: portal });
    if (response.body.status !== 'received') return response.body;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('message not converted in time');
}

/** A resource with what legitimately differs between two channels (ids, times, identifier system) taken out. */
function comparable(resource: any): any {
  const text = JSON.stringify(resource).replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<id>');
  const { meta: _m, identifier, authoredOn: _a, lastModified: _l, restriction: _r, extension: _e, ...rest } = JSON.parse(text);
  return resource.resourceType === 'ServiceRequest' ? rest : { identifier, ...rest };
}

describe('documents pushed by a referral portal', () => {
  test.each([['stu3-verwijzing', 'ZD-1001'], ['r4-verwijzing', 'ZD-2001']])(
    'the %s document is stored, answered 202, converted, and ends as the same referral as the HIS REST one',
    async (name, zdNumber) => {
      const response = await push(fixture(name));
      expect(response.status).toBe(202);
      expect(response.headers.get('location')).toMatch(/\/inbound\/zorgdomein\/messages\/[0-9a-f-]{36}$/);
      const message = await settled(response.body.statusUrl);
      expect(message).toMatchObject({ status: 'processed', zdNumber, kind: 'referral' });

      const viaPortal = await service.request('GET', `/fhir/ServiceRequest/${message.serviceRequest}`, { token: gp });
      expect(viaPortal.body.identifier).toEqual([{ system: 'https://wor-bridge.nl/fhir/NamingSystem/portal-referral/zorgdomein', value: zdNumber }]);
      const task = (await service.request('GET', `/fhir/Task/${message.task}`, { token: coach })).body;
      const rest = await service.request('POST', '/referrals', { token: gp, body: exampleReferral({ referralId: `REST-${zdNumber}` }) });
      const restResources = Object.fromEntries(rest.body.entry.map((entry: any) => [entry.resource.resourceType, entry.resource]));
      expect(comparable(viaPortal.body)).toEqual(comparable(restResources.ServiceRequest));
      expect(comparable(task)).toEqual(comparable(restResources.Task));
      const patient = (await service.request('GET', `/fhir/${task.for.reference}`, { token: coach })).body;
      expect(comparable(patient)).toEqual(comparable(restResources.Patient));
      expectValidFhir(viaPortal.body);
      expectValidFhir(task);
      // The portal that sent it may read it too.
      expect((await service.request('GET', `/fhir/ServiceRequest/${message.serviceRequest}`, { token: portal })).status).toBe(200);
    },
  );

  test('the same document pushed twice makes nothing new', async () => {
    const first = await push(fixture('r4-verwijzing', (document) => (document.identifier.value = 'ZD-DOC-DUP')), { path: '/inbound/zorgdomein' });
    const again = await push(fixture('r4-verwijzing', (document) => (document.identifier.value = 'ZD-DOC-DUP')));
    expect(again.status).toBe(202);
    expect(again.body).toMatchObject({ id: first.body.id, status: 'duplicate' });
  });

  test('the letter (STU3, PDF in a Binary) attaches to the existing referral without a second Task; the team can read it', async () => {
    await settled((await push(fixture('stu3-verwijzing', (document) => (document.identifier.value = 'ZD-DOC-L0')))).body.statusUrl);
    const letter = await settled((await push(fixture('stu3-verwijsbrief-pdf'))).body.statusUrl);
    expect(letter).toMatchObject({ status: 'processed', kind: 'letter' });
    const request = (await service.request('GET', `/fhir/ServiceRequest/${letter.serviceRequest}`, { token: coach })).body;
    const documentRef = request.supportingInfo.find((info: any) => info.reference.startsWith('DocumentReference/')).reference;
    const documentReference = (await service.request('GET', `/fhir/${documentRef}`, { token: coach })).body;
    expect(documentReference.content[0].attachment).toMatchObject({ contentType: 'application/pdf', title: 'Verwijsbrief' });
    expect(Buffer.from(documentReference.content[0].attachment.data, 'base64').toString('latin1')).toMatch(/^%PDF-1\.4/);
    expectValidFhir(documentReference);
    const tasks = await service.request('GET', `/fhir/Task?focus=ServiceRequest/${letter.serviceRequest}`, { token: coach });
    expect(tasks.body.total).toBe(1);
  });

  test('a supplement attaches, a cancellation revokes the referral and cancels its Task', async () => {
    await settled((await push(fixture('r4-verwijzing', (document) => (document.identifier.value = 'ZD-DOC-S0')))).body.statusUrl);
    const supplement = await settled((await push(fixture('r4-aanvulling'))).body.statusUrl);
    expect(supplement.status).toBe('processed');
    const cancellation = await settled((await push(fixture('r4-annulering'))).body.statusUrl);
    expect(cancellation.status).toBe('processed');
    expect((await service.request('GET', `/fhir/ServiceRequest/${cancellation.serviceRequest}`, { token: gp })).body.status).toBe('revoked');
    expect((await service.request('GET', `/fhir/Task/${cancellation.task}`, { token: gp })).body.status).toBe('cancelled');
  });

  test('tussenvoegsels, diacritics, missing optional parts and an unknown extension are handled', async () => {
    const message = await settled((await push(fixture('r4-verwijzing-diacritics-minimal'))).body.statusUrl);
    expect(message.status).toBe('processed');
    const task = (await service.request('GET', `/fhir/Task/${message.task}`, { token: coach })).body;
    const patient = (await service.request('GET', `/fhir/${task.for.reference}`, { token: coach })).body;
    expect(patient.name[0]).toMatchObject({ family: "d' Ancona-Müller", given: ['Zoë', 'Ĳsbrand'] });
    expect(patient.extension).toBeUndefined();
    expect(patient.telecom).toBeUndefined();
    expectValidFhir(patient);
  });

  test('a document with a wrong BSN is kept as failed with a precise reason, listed for an operator, and nothing is written', async () => {
    const response = await push(fixture('r4-verwijzing-wrong-bsn'));
    const message = await settled(response.body.statusUrl);
    expect(message.status).toBe('failed');
    expect(message.reason).toMatch(/^Bundle\.entry\[1\]\.resource\.identifier: /);
    expect(message.reason).not.toContain('123456789');
    expect(message.serviceRequest).toBeUndefined();
    const failed = await service.request('GET', '/operator/inbound', { token: operator });
    expect(failed.body.failed.map((item: any) => item.id)).toContain(message.id);
    expect((await service.request('GET', '/fhir/ServiceRequest?identifier=ZD-4001', { token: operator })).body.total).toBe(0);
  });

  test('a letter that arrives before its referral fails, and converts when replayed after the referral came', async () => {
    const early = await settled((await push(fixture('r4-aanvulling', (document) => {
      document.identifier.value = 'ZD-DOC-EARLY-2';
      document.entry[0].resource.identifier.value = 'ZD-EARLY';
    }))).body.statusUrl);
    expect(early).toMatchObject({ status: 'failed', reason: 'No referral with this transaction number has been processed yet' });
    await settled((await push(fixture('r4-verwijzing', (document) => {
      document.identifier.value = 'ZD-DOC-EARLY-1';
      document.entry[0].resource.identifier.value = 'ZD-EARLY';
    }))).body.statusUrl);
    expect((await service.request('POST', `/operator/inbound/${early.id}/replay`, { token: operator })).status).toBe(202);
    const replayed = await settled(`/inbound/zorgdomein/messages/${early.id}`);
    expect(replayed.status).toBe('processed');
    expect(replayed.reason).toBeUndefined();
  });

  test.each([
    ['an unsigned push', () => push(fixture('r4-verwijzing'), { signature: null }), 401, 'security'],
    ['a wrongly signed push', () => push(fixture('r4-verwijzing'), { signature: sign('{}', 'other') }), 401, 'security'],
    ['a Bundle that is not a document', () => push(fixture('not-a-document')), 400, 'invalid'],
    ['an oversized document', () => push(fixture('r4-verwijzing', (document) => (document.entry[1].resource.note = 'x'.repeat(9_000_000)))), 413, 'too-costly'],
    ['a push for another portal', async () => push(fixture('r4-verwijzing'), { path: '/inbound/zorgdomein', token: await service.token('portal', 'andere-portal') }), 404, 'not-found'],
    ['a GP token', async () => push(fixture('r4-verwijzing'), { token: gp }), 403, 'forbidden'],
  ])('%s is refused and nothing is stored', async (_name, send, status, code) => {
    const before = await service.storedRows();
    const response = await send();
    expect(response.status).toBe(status);
    expect(response.body.issue[0].code).toBe(code);
    expect(await service.storedRows()).toEqual(before);
  });
});

describe('portal referrals in the metrics', () => {
  test('converted and refused portal referrals are counted under their own channel', async () => {
    const metrics = String((await service.request('GET', '/metrics', { token: operator })).body);
    const count = (outcome: string) => Number(new RegExp(`^wor_referrals_total\\{channel="portal",outcome="${outcome}"\\} (\\d+)$`, 'm').exec(metrics)?.[1] ?? 0);
    expect(count('created')).toBeGreaterThanOrEqual(1);
    expect(count('refused')).toBeGreaterThanOrEqual(1);
  });
});
