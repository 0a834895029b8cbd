/**
 * Mints a development access token signed with config/dev/signing-key.json.
 *   npm run token -- gp 01054321
 *   npm run token -- coach leiden-noord --scope "system/Task.rus" --expires 10m
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { importJWK, SignJWT, type JWK } from 'jose';
import { DEV_AUDIENCE, DEV_ISSUER } from '../src/dev-defaults.js';

export const DEFAULT_SCOPES: Record<string, string> = {
  gp: 'system/ServiceRequest.crus system/Task.rus system/Communication.rs system/Patient.rs system/Consent.rs system/Practitioner.rs system/PractitionerRole.rs system/Organization.rs',
  coach: 'system/Task.rus system/ServiceRequest.rs system/Communication.crs system/Patient.rs system/Consent.rs system/Practitioner.rs system/PractitionerRole.rs system/Organization.rs',
  portal: 'system/Bundle.c system/ServiceRequest.rs system/Task.rs',
  operator: 'system/*.cruds',
};

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { scope: { type: 'string' }, expires: { type: 'string', default: '1h' }, 'client-id': { type: 'string' } },
});
const [role, org] = positionals;
if (!role || !org || !(role in DEFAULT_SCOPES)) {
  console.error('usage: npm run token -- <gp|coach|portal|operator> <organisation> [--scope "..."] [--expires 1h]');
  process.exit(2);
}
const jwk = JSON.parse(readFileSync(new URL('../config/dev/signing-key.json', import.meta.url), 'utf8')) as JWK;
const token = await new SignJWT({ scope: values.scope ?? DEFAULT_SCOPES[role], wor_role: role, wor_org: org, client_id: values['client-id'] ?? `dev-${role}-${org}` })
  .setProtectedHeader({ alg: 'ES256', kid: jwk.kid })
  .setIssuer(DEV_ISSUER)
  .setAudience(DEV_AUDIENCE)
  .setSubject(values['client-id'] ?? `dev-${role}-${org}`)
  .setIssuedAt()
  .setExpirationTime(values.expires!)
  .sign(await importJWK(jwk, 'ES256'));
console.log(token);
