import { readFileSync } from 'node:fs';
import { expect } from '@jest/globals';
import { importJWK, SignJWT, type JWK } from 'jose';
import { DEV_AUDIENCE } from '../../src/dev-defaults.js';
import { OTHER_PRACTICE_AGB } from '../fixtures/referral.js';
import { patientAt, submitReferral } from './referrals.js';
import type { TestService } from './service.js';

/** The built-ins a prototype-pollution attack goes for, as they were when the test file loaded. */
const ORIGINAL = {
  includes: Array.prototype.includes,
  at: Array.prototype.at,
  isArray: Array.isArray,
  objectKeys: Reflect.ownKeys(Object.prototype),
  arrayKeys: Reflect.ownKeys(Array.prototype),
  arrayStatics: Reflect.ownKeys(Array),
};

export function expectBuiltinsUntouched() {
  expect(Array.prototype.includes).toBe(ORIGINAL.includes);
  expect(Array.prototype.at).toBe(ORIGINAL.at);
  expect(Array.isArray).toBe(ORIGINAL.isArray);
  expect(Reflect.ownKeys(Object.prototype)).toEqual(ORIGINAL.objectKeys);
  expect(Reflect.ownKeys(Array.prototype)).toEqual(ORIGINAL.arrayKeys);
  expect(Reflect.ownKeys(Array)).toEqual(ORIGINAL.arrayStatics);
  expect(['a'].includes('b')).toBe(false);
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
}

/** Pointers that, followed naively, reach a built-in instead of data. */
export const DANGEROUS_POINTERS = [
  '/basedOn/constructor',
  '/basedOn/constructor/isArray',
  '/basedOn/constructor/prototype/includes',
  '/x/prototype',
  '/x/prototype/includes',
  '/__proto__',
  '/__proto__/polluted',
  '/constructor/prototype/polluted',
  '/status/constructor/prototype',
  '/basedOn/0/__proto__/polluted',
];

/** ~0/~1 forms: unescaped each is one harmless key, never a step into a built-in. */
export const ESCAPED_POINTERS = ['/basedOn~1constructor~1isArray', '/__proto__~1polluted', '/x~0prototype', '/basedOn/constructor~1prototype'];

export const PATCH_OPERATIONS = ['add', 'remove', 'replace', 'move', 'copy', 'test'] as const;
export type PatchOperation = (typeof PATCH_OPERATIONS)[number];

/** One operation with the pointer as its path, or as its from (move and copy). */
export function operationOn(op: PatchOperation, pointer: string, role: 'path' | 'from') {
  if (role === 'from') return { op, from: pointer, path: '/copied' };
  return op === 'move' || op === 'copy' ? { op, from: '/basedOn', path: pointer } : { op, path: pointer, value: { polluted: true, includes: 'x' } };
}

/** [op, 'path' | 'from', pointer] for every operation and every dangerous pointer it can carry. */
export const DANGEROUS_CASES = PATCH_OPERATIONS.flatMap((op) => [
  ...DANGEROUS_POINTERS.map((pointer) => [op, 'path', pointer] as const),
  ...(op === 'move' || op === 'copy' ? DANGEROUS_POINTERS.map((pointer) => [op, 'from', pointer] as const) : []),
]);

/** The exploit of issue 15: store Array under an ordinary key, write through its prototype, clean up. */
export const ISSUE_15_EXPLOIT = [
  { op: 'copy', from: '/basedOn/constructor', path: '/x' },
  { op: 'copy', from: '/x/prototype/at', path: '/x/prototype/includes' },
  { op: 'remove', path: '/x' },
];

const devKey = JSON.parse(readFileSync('config/dev/signing-key.json', 'utf8')) as JWK;

/**
 * Another practice's referral (handled by another team) and a token from the wrong issuer: after
 * an attack, each must still be refused as before (404, 404, 401).
 */
export async function tenancyProbe(service: TestService, attackers: { gp: string; coach: string }) {
  const { taskId } = await submitReferral(service, await service.token('gp', OTHER_PRACTICE_AGB), {
    ...patientAt('2317 AB'),
    requester: { agb: '01012345', practice: { agb: OTHER_PRACTICE_AGB, name: 'Gezondheidscentrum Merenwijk' } },
  });
  const operator = await service.token('operator', 'regio');
  const patient = (await service.request('GET', `/fhir/Task/${taskId}`, { token: operator })).body.for.reference as string;
  const wrongIssuer = await new SignJWT({ scope: 'system/*.cruds', wor_role: 'operator', wor_org: 'regio' })
    .setProtectedHeader({ alg: 'ES256', kid: devKey.kid })
    .setIssuer('https://evil.example')
    .setAudience(DEV_AUDIENCE)
    .setExpirationTime('1h')
    .sign(await importJWK(devKey, 'ES256'));
  return async function expectTenancyHolds() {
    const statuses = {
      otherPracticePatient: (await service.request('GET', `/fhir/${patient}`, { token: attackers.gp })).status,
      otherTeamTask: (await service.request('GET', `/fhir/Task/${taskId}`, { token: attackers.coach })).status,
      wrongIssuer: (await service.request('GET', `/fhir/Task/${taskId}`, { token: wrongIssuer })).status,
    };
    expect(statuses).toEqual({ otherPracticePatient: 404, otherTeamTask: 404, wrongIssuer: 401 });
  };
}
