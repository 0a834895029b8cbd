import { readFileSync } from 'node:fs';
import { describe, expect, test } from '@jest/globals';
import { base64url, exportJWK, generateKeyPair, importJWK, SignJWT, type JWK } from 'jose';
import { DEV_AUDIENCE, DEV_ISSUER } from '../../src/dev-defaults.js';
import { exampleReferral, PRACTICE_AGB } from '../fixtures/referral.js';
import { withService } from '../support/service.js';

const { service } = await withService();
const devKey = JSON.parse(readFileSync('config/dev/signing-key.json', 'utf8')) as JWK;
const claims = { scope: 'system/*.cruds', wor_role: 'gp', wor_org: PRACTICE_AGB };

async function signed(payload: Record<string, unknown>, options: { issuer?: string; audience?: string; expires?: string | number; notBefore?: string; key?: JWK; alg?: string } = {}) {
  const alg = options.alg ?? 'ES256';
  const jwt = new SignJWT(payload)
    .setProtectedHeader({ alg, kid: devKey.kid })
    .setIssuer(options.issuer ?? DEV_ISSUER)
    .setAudience(options.audience ?? DEV_AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(options.expires ?? '5m');
  if (options.notBefore) jwt.setNotBefore(options.notBefore);
  return jwt.sign(await importJWK(options.key ?? devKey, alg));
}

const unsigned = (header: object, payload: object) =>
  `${base64url.encode(JSON.stringify(header))}.${base64url.encode(JSON.stringify({ iss: DEV_ISSUER, aud: DEV_AUDIENCE, exp: Math.floor(Date.now() / 1000) + 300, ...payload }))}.`;

describe('tokens the service does not accept: 401, WWW-Authenticate, and nothing stored', () => {
  const attacks: Array<[string, () => Promise<string | undefined>]> = [
    ['no token', async () => undefined],
    ['a token that is not a JWT', async () => 'not-a-jwt'],
    ['an expired token', () => signed(claims, { expires: Math.floor(Date.now() / 1000) - 60 })],
    ['a token not valid yet', () => signed(claims, { notBefore: '10m' })],
    ['a token signed with another key', async () => signed(claims, { key: await exportJWK((await generateKeyPair('ES256', { extractable: true })).privateKey) })],
    ['alg none', async () => unsigned({ alg: 'none', kid: devKey.kid }, claims)],
    ['HS256 with the public key as secret', async () => {
      const publicJwk = JSON.parse(readFileSync('config/dev/jwks.json', 'utf8')).keys[0];
      return new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid: devKey.kid }).setIssuer(DEV_ISSUER).setAudience(DEV_AUDIENCE).setExpirationTime('5m')
        .sign(new TextEncoder().encode(JSON.stringify(publicJwk)));
    }],
    ['a wrong issuer', () => signed(claims, { issuer: 'https://evil.example' })],
    ['a wrong audience', () => signed(claims, { audience: 'another-service' })],
    ['no exp', async () => new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: devKey.kid }).setIssuer(DEV_ISSUER).setAudience(DEV_AUDIENCE).sign(await importJWK(devKey, 'ES256'))],
    ['no wor_org', () => signed({ scope: claims.scope, wor_role: 'gp' })],
    ['an unknown wor_role', () => signed({ ...claims, wor_role: 'admin' })],
  ];

  test.each(attacks)('%s', async (_name, token) => {
    const jwt = await token();
    const response = await service.request('POST', '/referrals', { body: exampleReferral(), ...(jwt ? { token: jwt } : {}) });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(response.body).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ code: 'login' }] });
    expect((await service.db.query(`SELECT id FROM resource WHERE resource_type = 'ServiceRequest'`)).rows).toEqual([]);
  });

  test('every endpoint but the public ones wants a token', async () => {
    for (const [method, path] of [['GET', '/fhir/Task'], ['GET', '/fhir/Task/x'], ['POST', '/queues/leiden-noord/claim'], ['GET', '/metrics'], ['GET', '/operator/audit'], ['POST', '/fhir']]) {
      expect({ path, status: (await service.request(method!, path!)).status }).toEqual({ path, status: 401 });
    }
    for (const path of ['/healthz', '/readyz', '/fhir/metadata', '/openapi.yaml']) {
      expect({ path, status: (await service.request('GET', path)).status }).toEqual({ path, status: 200 });
    }
  });
});
