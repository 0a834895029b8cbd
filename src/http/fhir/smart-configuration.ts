import type { CapabilityStatement } from 'fhir/r4.js';

/** The SMART v2 permission each interaction needs (src/auth/scopes.ts checks them). */
const PERMISSION: Record<string, string> = {
  read: 'r',
  vread: 'r',
  'history-instance': 'r',
  'search-type': 's',
  create: 'c',
  update: 'u',
  patch: 'u',
  delete: 'd',
};
/**
 * Permissions outside the resource interactions: the referral transaction and /referrals
 * (ServiceRequest.c), portal documents (Bundle.c), $evaluate-measure and the report page (MeasureReport.r).
 */
const OTHER_PERMISSIONS: Record<string, string> = { ServiceRequest: 'c', Bundle: 'c', MeasureReport: 'r' };
const CRUDS = 'cruds';

/** `system/Type.cruds` for every type, with the letters in SMART's order. */
function scopesOffered(statement: CapabilityStatement): string[] {
  const letters = new Map<string, Set<string>>(Object.entries(OTHER_PERMISSIONS).map(([type, letter]) => [type, new Set([letter])]));
  for (const resource of statement.rest?.[0]?.resource ?? []) {
    const permissions = letters.get(resource.type) ?? new Set<string>();
    for (const { code } of resource.interaction ?? []) if (PERMISSION[code]) permissions.add(PERMISSION[code]);
    letters.set(resource.type, permissions);
  }
  return [...letters].map(([type, permissions]) => `system/${type}.${[...CRUDS].filter((letter) => permissions.has(letter)).join('')}`);
}

/**
 * `/.well-known/smart-configuration` (SMART App Launch 2.0 discovery) for backend services: where
 * the configured identity provider issues tokens (client credentials with a signed JWT assertion,
 * `client-confidential-asymmetric`) and the system scopes this server honours. Pure.
 */
export function smartConfiguration(tokenUrl: string, statement: CapabilityStatement) {
  return {
    token_endpoint: tokenUrl,
    grant_types_supported: ['client_credentials'],
    token_endpoint_auth_methods_supported: ['private_key_jwt'],
    // What SMART Backend Services requires every party to support for the client assertion.
    token_endpoint_auth_signing_alg_values_supported: ['RS384', 'ES384'],
    scopes_supported: scopesOffered(statement),
    capabilities: ['client-confidential-asymmetric', 'permission-v1', 'permission-v2'],
  };
}
