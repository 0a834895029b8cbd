import { beforeAll, describe, expect, test } from '@jest/globals';
import { PRACTICE_AGB } from '../fixtures/referral.js';
import { claimAndAnswer, submitReferral } from '../support/referrals.js';
import {
  DANGEROUS_CASES,
  ESCAPED_POINTERS,
  expectBuiltinsUntouched,
  ISSUE_15_EXPLOIT,
  operationOn,
  PATCH_OPERATIONS,
  tenancyProbe,
} from '../support/security-probes.js';
import { withService } from '../support/service.js';

let taskId: string;
let serviceRequestId: string;
let expectTenancyHolds: () => Promise<void>;

const { service, gp, coach } = await withService({ env: { RATE_LIMIT_PER_MINUTE: '1000000' }, tokens: { gp: ['gp', PRACTICE_AGB], coach: ['coach', 'leiden-noord'] } });
beforeAll(async () => {
  ({ taskId, serviceRequestId } = await submitReferral(service, gp));
  await claimAndAnswer(service, coach, taskId);
  expectTenancyHolds = await tenancyProbe(service, { gp, coach });
});

type Target = 'Task' | 'ServiceRequest';
const resourcePath = (target: Target) => `/fhir/${target}/${target === 'Task' ? taskId : serviceRequestId}`;

function patch(target: Target, operations: unknown) {
  const [path, token] = [resourcePath(target), target === 'Task' ? coach : gp];
  return service.request('PATCH', path, { token, rawBody: JSON.stringify(operations), headers: { 'content-type': 'application/json-patch+json' } });
}

const stored = async (target: Target) => (await service.request('GET', resourcePath(target), { token: gp })).body;

/** Nothing escaped the patch: built-ins, tenancy, issuer checks and the resource itself are as before. */
async function expectNothingChanged(target: Target, before: unknown) {
  expectBuiltinsUntouched();
  await expectTenancyHolds();
  expect(await stored(target)).toEqual(before);
}

describe('JSON Patch cannot reach a built-in (issue 15, finding 1)', () => {
  test.each(['Task', 'ServiceRequest'] as const)('the exploit of issue 15 on PATCH /fhir/%s is refused at its first operation; tenancy, roles and issuer checks still hold', async (target) => {
    const before = await stored(target);
    const response = await patch(target, ISSUE_15_EXPLOIT);
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ code: 'invalid', expression: ['/0/from'] }] });
    await expectNothingChanged(target, before);
  });

  test.each(DANGEROUS_CASES)('PATCH /fhir/Task with %s and %s %s answers 400 naming it, and changes nothing', async (op, role, pointer) => {
    const before = await stored('Task');
    const response = await patch('Task', [{ op: 'test', path: '/status', value: 'accepted' }, operationOn(op, pointer, role)]);
    expect(response.status).toBe(400);
    expect(response.body.issue[0].expression).toEqual([`/1/${role}`]);
    await expectNothingChanged('Task', before);
  });

  test.each(DANGEROUS_CASES)('PATCH /fhir/ServiceRequest with %s and %s %s answers 400 naming it, and changes nothing', async (op, role, pointer) => {
    const before = await stored('ServiceRequest');
    const response = await patch('ServiceRequest', [operationOn(op, pointer, role)]);
    expect(response.status).toBe(400);
    expect(response.body.issue[0].expression).toEqual([`/0/${role}`]);
    await expectNothingChanged('ServiceRequest', before);
  });

  test.each(PATCH_OPERATIONS.flatMap((op) => ESCAPED_POINTERS.map((pointer) => [op, pointer] as const)))('PATCH /fhir/Task with %s on escaped %s is a plain 4xx refusal', async (op, pointer) => {
    const before = await stored('Task');
    const response = await patch('Task', [operationOn(op, pointer, 'path')]);
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(response.status).toBeLessThan(500);
    await expectNothingChanged('Task', before);
  });
});

describe('the cost of a JSON Patch is capped (issue 15, finding 2)', () => {
  test('24 doubling copies (1 KB of patch) are refused quickly at the size limit; the stored Task is unchanged', async () => {
    const before = await stored('Task');
    const doubling = [{ op: 'copy', from: '/basedOn', path: '/x' }, ...Array.from({ length: 24 }, () => ({ op: 'copy', from: '/x', path: '/x/-' }))];
    const started = Date.now();
    const response = await patch('Task', doubling);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(response.status).toBe(422);
    expect(response.body.issue[0]).toMatchObject({ code: 'too-costly', expression: [expect.stringMatching(/^\/[0-9]+$/)] });
    await expectNothingChanged('Task', before);
  });

  test('a patch of more than 100 operations is refused before any applies', async () => {
    const before = await stored('Task');
    const response = await patch('Task', Array.from({ length: 101 }, () => ({ op: 'test', path: '/status', value: 'accepted' })));
    expect(response.status).toBe(400);
    expect(response.body.issue[0]).toMatchObject({ code: 'too-costly', expression: ['/100'] });
    await expectNothingChanged('Task', before);
  });
});
