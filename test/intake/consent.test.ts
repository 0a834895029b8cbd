import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, test } from '@jest/globals';
import { exampleReferral, PRACTICE_AGB } from '../fixtures/referral.js';
import { exampleTransaction } from '../fixtures/fhir-transaction.js';
import { withService } from '../support/service.js';

/** Consent is checked in one place for every channel: nothing reaches the team without it. */
const SECRET = 'portal-consent-secret';
process.env.ZORGDOMEIN_HMAC_SECRET = SECRET;
const { service, gp, portal } = await withService({
  env: { INBOUND_RETRY_ATTEMPTS: '2', INBOUND_RETRY_BACKOFF_MS: '50' },
  tokens: { gp: ['gp', PRACTICE_AGB], portal: ['portal', 'zorgdomein'] },
});

/** Everything a referral writes: resources of any type, the team's queue (outbox), deadline timers, idempotency records. */
async function written() {
  const count = async (query: string) => Number((await service.db.query<{ n: string }>(`SELECT count(*) AS n FROM ${query}`)).rows[0]!.n);
  return {
    resources: await count("resource WHERE id NOT LIKE 'team-%'"), // the teams' own Organizations come from the directory
    outbox: await count('outbox'),
    timers: await count('timer'),
    idempotency: await count("idempotency WHERE scope = 'referral'"),
    masterData: await count('referral_master_data'),
  };
}
const nothingWritten = { resources: 0, outbox: 0, timers: 0, idempotency: 0, masterData: 0 };

async function pushDocument(name: string, change: (consent: any) => void, documentId: string) {
  const document = JSON.parse(readFileSync(`test/fixtures/portal/${name}.json`, 'utf8'));
  document.identifier.value = documentId;
  const index = document.entry.findIndex((entry: any) => entry.resource.resourceType === 'Consent');
  change(document.entry[index].resource);
  if (!document.entry[index].resource.resourceType) document.entry.splice(index, 1);
  const rawBody = JSON.stringify(document);
  const response = await service.request('POST', '/inbound/zorgdomein/Bundle', {
    token: portal,
    rawBody,
    headers: { 'content-type': 'application/fhir+json', 'x-signature': `sha256=${createHmac('sha256', SECRET).update(rawBody).digest('hex')}` },
  });
  expect(response.status).toBe(202);
  for (let i = 0; i < 100; i += 1) {
    const message = (await service.request('GET', response.body.statusUrl.replace('http://wor-bridge.test', ''), { token: portal })).body;
    if (message.status !== 'received') return { index, message };
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('message not converted in time');
}

describe('a referral without an active, permitting consent is refused on every channel and nothing is written', () => {
  test('HIS REST: shareWithSocialDomain false answers 422 naming the consent', async () => {
    const body = exampleReferral({ referralId: 'CONSENT-HIS-1', consent: { shareWithSocialDomain: false, recordedOn: '2026-11-20' } });
    const response = await service.request('POST', '/referrals', { token: gp, body });
    expect(response.status).toBe(422);
    expect(response.body.issue[0]).toMatchObject({ code: 'required', expression: ['consent.shareWithSocialDomain'] });
    expect(response.body.issue[0].diagnostics).toMatch(/Consent/);
    expect(await written()).toEqual(nothingWritten);
  });

  test.each([
    ['denies', (consent: any) => (consent.provision.type = 'deny'), 'provision.type'],
    ['is inactive', (consent: any) => (consent.status = 'inactive'), 'status'],
  ])('FHIR transaction: a Consent that %s answers 422 naming its element', async (_name, change, element) => {
    const transaction = exampleTransaction(`CONSENT-FHIR-${element}`);
    change(transaction.entry[5].resource);
    const response = await service.request('POST', '/fhir', { token: gp, body: transaction });
    expect(response.status).toBe(422);
    expect(response.body.issue[0]).toMatchObject({ code: 'required', expression: [`Bundle.entry[5].resource.${element}`] });
    expect(await written()).toEqual(nothingWritten);
  });

  test('FHIR transaction: without a Consent answers 422', async () => {
    const transaction = exampleTransaction('CONSENT-FHIR-NONE');
    transaction.entry.splice(5, 1);
    const response = await service.request('POST', '/fhir', { token: gp, body: transaction });
    expect(response.status).toBe(422);
    expect(response.body.issue[0].diagnostics).toMatch(/Consent/);
    expect(await written()).toEqual(nothingWritten);
  });

  test.each([
    ['r4-verwijzing', 'denies', (consent: any) => (consent.provision.type = 'deny'), /^Bundle\.entry\[6\]\.resource\.provision\.type: .*Consent/],
    ['r4-verwijzing', 'is inactive', (consent: any) => (consent.status = 'inactive'), /^Bundle\.entry\[6\]\.resource\.status: .*Consent/],
    ['stu3-verwijzing', 'is inactive', (consent: any) => (consent.status = 'rejected'), /^Bundle\.entry\[5\]\.resource\.status: .*Consent/],
    ['r4-verwijzing', 'is missing', (consent: any) => delete consent.resourceType, /Consent/],
  ])('portal: a %s document whose Consent %s fails with a reason naming the consent', async (name, _what, change, reason) => {
    const { message } = await pushDocument(name, change, `CONSENT-DOC-${name}-${String(reason).length}-${Math.random()}`);
    expect(message).toMatchObject({ status: 'failed', kind: 'referral' });
    expect(message.reason).toMatch(reason);
    expect(message.serviceRequest).toBeUndefined();
    expect(await written()).toEqual(nothingWritten);
  });

  test('a portal document with a permitting Consent is stored, and its stored Consent says what was sent', async () => {
    const { message } = await pushDocument('r4-verwijzing', () => undefined, 'CONSENT-DOC-OK');
    expect(message.status).toBe('processed');
    const request = (await service.request('GET', `/fhir/ServiceRequest/${message.serviceRequest}`, { token: gp })).body;
    const consent = (await service.request('GET', `/fhir/${request.supportingInfo[0].reference}`, { token: gp })).body;
    expect(consent).toMatchObject({ status: 'active', provision: { type: 'permit' }, dateTime: '2026-11-20' });
  });
});
