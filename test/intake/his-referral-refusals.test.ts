import { describe, expect, test } from '@jest/globals';
import { exampleReferral, OTHER_PRACTICE_AGB, PRACTICE_AGB } from '../fixtures/referral.js';
import { PATIENT_DATA_IN_FIXTURES } from '../support/patient-data.js';
import { LEIDEN_NOORD } from '../support/directory.js';
import { withService, type TestService } from '../support/service.js';

const { service, gp } = await withService({ tokens: { gp: ['gp', PRACTICE_AGB] } });
/** A directory with one team and no fallback: a referral from outside its postcodes has nowhere to go. */
const { service: noFallback } = await withService({ directory: { teams: [LEIDEN_NOORD] } });

/** A copy of the example with one field changed (`undefined` removes it). */
function variant(path: string, value: unknown): Record<string, any> {
  const referral: any = structuredClone(exampleReferral({ referralId: `BAD-${path}` }));
  const keys = path.split('.');
  const parent = keys.slice(0, -1).reduce((node, key) => node[key], referral);
  if (value === undefined) delete parent[keys.at(-1)!];
  else parent[keys.at(-1)!] = value;
  return referral;
}

async function expectNothingStored(target: TestService) {
  const { rows } = await target.db.query(`SELECT resource_type, id FROM resource WHERE resource_type IN ('ServiceRequest', 'Task', 'Patient', 'Consent')`);
  expect(rows).toEqual([]);
  expect(await target.keys('bull:team-leiden-noord:[0-9a-f]*')).toEqual([]);
}

function expectNoPatientData(body: unknown) {
  const text = JSON.stringify(body);
  for (const value of PATIENT_DATA_IN_FIXTURES) expect(text).not.toContain(value);
}

const CASES: Array<[string, Record<string, any>, number, string, string]> = [
  ['a missing referralId', variant('referralId', undefined), 400, 'required', 'referralId'],
  ['a missing authoredOn', variant('authoredOn', undefined), 400, 'required', 'authoredOn'],
  ['authoredOn without time zone', variant('authoredOn', '2026-11-20T10:15:00'), 400, 'value', 'authoredOn'],
  ['no ICPC code', variant('reason.icpc', []), 400, 'value', 'reason.icpc'],
  ['a malformed ICPC code', variant('reason.icpc', [{ code: 'slaap' }]), 400, 'value', 'reason.icpc[0].code'],
  ['an ICPC code in no ICPC-1 chapter (Q99)', variant('reason.icpc', [{ code: 'Z86' }, { code: 'Q99' }]), 400, 'value', 'reason.icpc[1].code'],
  ['an ICPC component number 00', variant('reason.icpc', [{ code: 'P00.01' }]), 400, 'value', 'reason.icpc[0].code'],
  ['a requester without AGB, BIG or UZI number', variant('requester.agb', undefined), 400, 'value', 'requester'],
  ['a partner assembly order without the partner name', variant('patient.name.assemblyOrder', 'NL2'), 400, 'required', 'patient.name.partnerFamily'],
  ['a missing BSN', variant('patient.bsn', undefined), 400, 'required', 'patient.bsn'],
  ['a BSN that fails the 11-test', variant('patient.bsn', '123456789'), 400, 'value', 'patient.bsn'],
  ['a BSN of letters', variant('patient.bsn', 'abcdefghi'), 400, 'value', 'patient.bsn'],
  ['a missing family name', variant('patient.name.family', undefined), 400, 'required', 'patient.name.family'],
  ['a missing birth date', variant('patient.birthDate', undefined), 400, 'required', 'patient.birthDate'],
  ['a birth date as a number', variant('patient.birthDate', 19480302), 400, 'structure', 'patient.birthDate'],
  ['a birth date in the future', variant('patient.birthDate', '2999-01-01'), 400, 'value', 'patient.birthDate'],
  ['a missing postcode', variant('patient.address.postalCode', undefined), 400, 'required', 'patient.address.postalCode'],
  ['a foreign postcode', variant('patient.address.postalCode', 'SW1A 1AA'), 400, 'value', 'patient.address.postalCode'],
  ['a malformed e-mail', variant('patient.email', 'not-an-address'), 400, 'value', 'patient.email'],
  ['a requester AGB of 7 digits', variant('requester.agb', '0101234'), 400, 'value', 'requester.agb'],
  ['a missing practice AGB', variant('requester.practice.agb', undefined), 400, 'required', 'requester.practice.agb'],
  ['no consent at all', variant('consent', undefined), 400, 'required', 'consent'],
  ['an unknown urgency', variant('urgency', 'asap'), 400, 'value', 'urgency'],
  ['an unknown field', variant('favouriteColour', 'blue'), 400, 'structure', 'favouriteColour'],
  ['consent not given', variant('consent.shareWithSocialDomain', false), 422, 'required', 'consent.shareWithSocialDomain'],
  ["another practice's AGB", variant('requester.practice.agb', OTHER_PRACTICE_AGB), 403, 'forbidden', 'requester.practice.agb'],
];

describe('a referral that cannot be accepted is refused precisely, and nothing is stored or queued', () => {
  test.each(CASES)('%s', async (_name, body, status, code, expression) => {
    const response = await service.request('POST', '/referrals', { token: gp, body });
    expect(response.status).toBe(status);
    expect(response.headers.get('content-type')).toMatch(/^application\/fhir\+json/);
    expect(response.body.resourceType).toBe('OperationOutcome');
    expect(response.body.issue[0]).toMatchObject({ severity: 'error', code, expression: [expression] });
    expectNoPatientData(response.body);
    await expectNothingStored(service);
  });

  test('Q99 is refused with the ICPC-1 chapters named', async () => {
    const response = await service.request('POST', '/referrals', { token: gp, body: variant('reason.icpc', [{ code: 'Q99' }]) });
    expect(response.status).toBe(400);
    expect(response.body.issue[0].diagnostics).toBe('reason.icpc[0].code: the chapter letter must be one of A B D F H K L N P R S T U W X Y Z (ICPC-1)');
  });

  test('a postcode no team serves, without a fallback team, answers 422 and stores nothing', async () => {
    const token = await noFallback.token('gp', PRACTICE_AGB);
    const response = await noFallback.request('POST', '/referrals', { token, body: variant('patient.address.postalCode', '9999 ZZ') });
    expect(response.status).toBe(422);
    expect(response.body.issue[0].expression).toEqual(['patient.address.postalCode']);
    await expectNothingStored(noFallback);
  });

  test.each([
    ['malformed JSON', '{"referralId": ', 'application/json', 400, 'structure'],
    ['an empty body', '', 'application/json', 400, 'structure'],
    ['a body that is an array', '[1,2]', 'application/json', 400, 'structure'],
    ['a body that is a string', '"referral"', 'application/json', 400, 'structure'],
    ['the wrong media type', 'referralId=1', 'text/plain', 415, 'not-supported'],
    ['a prototype-pollution key', '{"__proto__": {"admin": true}, "referralId": "X"}', 'application/json', 400, 'structure'],
    ['a body over the limit', JSON.stringify({ ...exampleReferral(), note: 'x'.repeat(1_100_000) }), 'application/json', 413, 'too-costly'],
  ])('%s', async (_name, rawBody, contentType, status, code) => {
    const response = await service.request('POST', '/referrals', { token: gp, rawBody, headers: { 'content-type': contentType } });
    expect(response.status).toBe(status);
    expect(response.body.issue[0].code).toBe(code);
    await expectNothingStored(service);
  });

  test('a coach token on POST /referrals is refused with 403', async () => {
    const coach = await service.token('coach', 'leiden-noord');
    const response = await service.request('POST', '/referrals', { token: coach, body: exampleReferral() });
    expect(response.status).toBe(403);
    await expectNothingStored(service);
  });

  test('a gp token without system/ServiceRequest.c is refused with 403', async () => {
    const token = await service.token('gp', PRACTICE_AGB, { scope: 'system/Task.rs system/ServiceRequest.rs' });
    const response = await service.request('POST', '/referrals', { token, body: exampleReferral() });
    expect(response.status).toBe(403);
    expect(response.body.issue[0].diagnostics).toMatch(/system\/ServiceRequest\.c/);
    await expectNothingStored(service);
  });
});
