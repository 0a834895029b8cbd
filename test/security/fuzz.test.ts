import { beforeAll, describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { exampleReferral, PRACTICE_AGB } from '../fixtures/referral.js';
import { exampleTransaction } from '../fixtures/fhir-transaction.js';
import { submitReferral } from '../support/referrals.js';
import { expectBuiltinsUntouched, ISSUE_15_EXPLOIT, tenancyProbe } from '../support/security-probes.js';
import { withService } from '../support/service.js';

let taskId: string;
let serviceRequestId: string;
let expectTenancyHolds: () => Promise<void>;
const RUNS = 40;
// A fixed seed (FUZZ_SEED) replays a run; without one every run explores new inputs.
if (process.env.FUZZ_SEED) fc.configureGlobal({ seed: Number(process.env.FUZZ_SEED) });

const { service, gp, coach } = await withService({ env: { RATE_LIMIT_PER_MINUTE: '1000000' }, tokens: { gp: ['gp', PRACTICE_AGB], coach: ['coach', 'leiden-noord'] } });
beforeAll(async () => {
  ({ taskId, serviceRequestId } = await submitReferral(service, gp));
  expectTenancyHolds = await tenancyProbe(service, { gp, coach });
});

/** Hostile values: deep nesting, huge strings, prototype-pollution keys, wrong types. */
const hostile = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }),
  fc.constantFrom(
    { __proto__: { admin: true } },
    JSON.parse('{"__proto__": {"polluted": true}}'),
    { constructor: { prototype: { polluted: true } } },
    'x'.repeat(200_000),
    Array.from({ length: 5000 }, () => 1),
    JSON.parse(`${'['.repeat(500)}${']'.repeat(500)}`),
    null,
  ),
);

/** Pointer segments that lead to data, to built-ins, to nothing, or are escaped (~0, ~1). */
const segment = fc.oneof(
  fc.constantFrom('status', 'basedOn', 'owner', 'meta', 'note', 'x', '0', '1', '-', '01', 'a', 'b'),
  fc.constantFrom('constructor', 'prototype', '__proto__', 'isArray', 'includes', 'at', 'length', 'toString', 'hasOwnProperty'),
  fc.constantFrom('construct~0or', 'basedOn~1constructor', '__proto__~1x', '~', '~2', ''),
  fc.string({ maxLength: 6 }),
);
const pointer = fc.oneof(fc.constant(''), fc.array(segment, { minLength: 1, maxLength: 4 }).map((segments) => segments.map((key) => `/${key}`).join('')));
const patchOperation = fc.record(
  { op: fc.constantFrom('add', 'remove', 'replace', 'move', 'copy', 'copy', 'move', 'test', 'x'), path: pointer, from: pointer, value: hostile },
  { requiredKeys: ['op', 'path'] },
);
/** Random patches, with the exploit of issue 15 and doubling copies mixed in. */
const jsonPatch = fc.oneof(
  fc.array(patchOperation, { maxLength: 6 }),
  fc.tuple(fc.array(patchOperation, { maxLength: 2 }), fc.array(patchOperation, { maxLength: 2 })).map(([before, after]) => [...before, ...ISSUE_15_EXPLOIT, ...after]),
  fc.integer({ min: 1, max: 40 }).map((copies) => [{ op: 'copy', from: '/basedOn', path: '/x' }, ...Array.from({ length: copies }, () => ({ op: 'copy', from: '/x', path: '/x/-' }))]),
);

/** The example referral with one field replaced by a hostile value (or removed). */
const mutatedReferral = fc
  .tuple(
    fc.constantFrom('referralId', 'authoredOn', 'reason', 'urgency', 'patient', 'requester', 'consent', 'note', 'patient.bsn', 'patient.name', 'patient.address', 'reason.icpc', 'consent.shareWithSocialDomain'),
    fc.option(hostile, { nil: undefined }),
    fc.string({ minLength: 1, maxLength: 12 }),
  )
  .map(([path, value, id]) => {
    const referral: any = structuredClone(exampleReferral({ referralId: `FUZZ-${id.replace(/[^A-Za-z0-9]/g, 'x')}` }));
    const keys = path.split('.');
    const parent = keys.slice(0, -1).reduce((node, key) => node[key], referral);
    if (value === undefined) delete parent[keys.at(-1)!];
    else parent[keys.at(-1)!] = value;
    return referral;
  });

const ENDPOINTS: Array<[string, string, () => string]> = [
  ['POST', '/referrals', () => gp],
  ['POST', '/fhir', () => gp],
  ['POST', '/fhir/Communication', () => coach],
  ['POST', '/queues/leiden-noord/leases/x/ack', () => coach],
  ['PUT', '/fhir/Task/:task', () => coach],
  ['POST', '/referrals/x/cancel', () => gp],
];

async function send(method: string, path: string, token: string, body: unknown, contentType = 'application/fhir+json') {
  const rawBody = JSON.stringify(body) ?? 'null';
  return service.request(method, path.replace(':task', taskId), { token, rawBody, headers: { 'content-type': contentType } });
}

/** Every stored referral is whole: as many Tasks, Patients and Consents as ServiceRequests. */
async function expectNoPartialWrites() {
  const count = async (type: string) => (await service.keys(`res:${type}:*`)).length;
  const requests = await count('ServiceRequest');
  expect({ tasks: await count('Task'), patients: await count('Patient'), consents: await count('Consent') }).toEqual({ tasks: requests, patients: requests, consents: requests });
}

describe('fuzzing every endpoint never gives a 500 or a partial write', () => {
  test.each(ENDPOINTS)('%s %s with hostile JSON', async (method, path, token) => {
    await fc.assert(
      fc.asyncProperty(hostile, async (body) => {
        const response = await send(method, path, token(), body);
        expect(response.status).toBeLessThan(500);
        expect(response.body?.resourceType ?? 'none').not.toBe('none');
      }),
      { numRuns: RUNS },
    );
    await expectNoPartialWrites();
  });

  test('POST /referrals with one field of a good referral replaced by something hostile', async () => {
    await fc.assert(
      fc.asyncProperty(mutatedReferral, async (body) => {
        const response = await send('POST', '/referrals', gp, body);
        expect(response.status).toBeLessThan(500);
      }),
      { numRuns: RUNS * 2 },
    );
    await expectNoPartialWrites();
  });

  test('POST /fhir with hostile values in a good transaction', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 5 }), fc.constantFrom('identifier', 'name', 'reference', 'status', 'birthDate', 'provision'), hostile, async (entry, field, value) => {
        const transaction = exampleTransaction(`FUZZ-TX-${entry}-${field}`);
        transaction.entry[entry].resource[field] = value;
        const response = await send('POST', '/fhir', gp, transaction);
        expect(response.status).toBeLessThan(500);
      }),
      { numRuns: RUNS },
    );
    await expectNoPartialWrites();
  });

  test('JSON Patch with prototype paths, copies and moves never reaches a built-in or another tenant', async () => {
    await fc.assert(
      fc.asyncProperty(jsonPatch, async (patch) => {
        for (const path of [`/fhir/Task/${taskId}`, `/fhir/ServiceRequest/${serviceRequestId}`]) {
          const response = await send('PATCH', path, path.includes('Task') ? coach : gp, patch, 'application/json-patch+json');
          expect(response.status).toBeLessThan(500);
        }
        expectBuiltinsUntouched();
        await expectTenancyHolds();
      }),
      { numRuns: RUNS },
    );
  });

  test('search with random parameters and values', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('Task', 'ServiceRequest', 'Patient', 'Communication', 'Organization'), fc.dictionary(fc.string({ maxLength: 12 }), fc.string({ maxLength: 40 }), { maxKeys: 3 }), async (type, params) => {
        const query = new URLSearchParams(params).toString();
        const response = await service.request('GET', `/fhir/${type}?${query}`, { token: gp });
        expect(response.status).toBeLessThan(500);
      }),
      { numRuns: RUNS * 2 },
    );
  });

  test('wrong media types on every write', async () => {
    for (const [method, path, token] of ENDPOINTS) {
      for (const contentType of ['text/plain', 'application/xml', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded']) {
        const response = await service.request(method, path.replace(':task', taskId), { token: token(), rawBody: '<a/>', headers: { 'content-type': contentType } });
        expect({ path, contentType, status: response.status }).toEqual({ path, contentType, status: 415 });
      }
    }
  });
});
