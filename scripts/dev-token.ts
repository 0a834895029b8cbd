import { readFileSync } from 'node:fs';
import { importJWK, SignJWT, type JWK } from 'jose';
import { DEV_AUDIENCE, DEV_ISSUER } from '../src/dev-defaults.js';

/** Scopes a development token gets per role unless told otherwise. */
export const DEFAULT_SCOPES: Record<string, string> = {
  gp: 'system/ServiceRequest.crus system/Task.rus system/Communication.rs system/Patient.rs system/Consent.rs system/Practitioner.rs system/PractitionerRole.rs system/Organization.rs system/DocumentReference.rs system/Subscription.cruds system/Measure.rs system/MeasureReport.rs',
  coach: 'system/Task.rus system/ServiceRequest.rs system/Communication.crs system/Patient.rs system/Consent.rs system/Practitioner.rs system/PractitionerRole.rs system/Organization.rs system/DocumentReference.rs system/Subscription.cruds system/Measure.rs system/MeasureReport.rs',
  portal: 'system/Bundle.c system/ServiceRequest.rs system/Task.rs system/DocumentReference.rs',
  operator: 'system/*.cruds',
};

export interface DevTokenOptions {
  role: string;
  org: string;
  scope?: string;
  /** jose time span ("1h", "10m") or an absolute epoch second. */
  expires?: string | number;
  clientId?: string;
  /** More claims, e.g. the acting user: `sub`, `name`, `uzi_nr`. */
  claims?: Record<string, unknown>;
}

const signingKey = () => JSON.parse(readFileSync(new URL('../config/dev/signing-key.json', import.meta.url), 'utf8')) as JWK;

/** A token signed with the development key (config/dev/signing-key.json), trusted in development mode only. */
export async function mintDevToken(options: DevTokenOptions): Promise<string> {
  const jwk = signingKey();
  const clientId = options.clientId ?? `dev-${options.role}-${options.org}`;
  const { sub = clientId, ...claims } = options.claims ?? {};
  return new SignJWT({ scope: options.scope ?? DEFAULT_SCOPES[options.role] ?? '', wor_role: options.role, wor_org: options.org, client_id: clientId, ...claims })
    .setProtectedHeader({ alg: 'ES256', kid: jwk.kid })
    .setIssuer(DEV_ISSUER)
    .setAudience(DEV_AUDIENCE)
    .setSubject(String(sub))
    .setIssuedAt()
    .setExpirationTime(options.expires ?? '1h')
    .sign(await importJWK(jwk, 'ES256'));
}
