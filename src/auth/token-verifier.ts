import { readFileSync } from 'node:fs';
import { createLocalJWKSet, createRemoteJWKSet, errors, jwtVerify, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { z } from 'zod';
import { FhirError } from '../fhir/operation-outcome.js';
import { ROLES, type Caller } from './caller.js';
import { parseScopes } from './scopes.js';

export const ACCEPTED_ALGORITHMS = ['RS256', 'RS384', 'ES256', 'ES384'];

const claimsSchema = z.object({
  scope: z.string().default(''),
  wor_role: z.enum(ROLES),
  wor_org: z.string().min(1).max(64),
  client_id: z.string().optional(),
  sub: z.string().optional(),
  // The acting user, when the token carries one (a user's token, not a system's).
  name: z.string().min(1).max(200).optional(),
  uzi_nr: z.string().regex(/^[0-9]{9}$/, 'a UZI number is 9 digits').optional(),
});

export interface TokenVerifierOptions {
  jwksFile?: string;
  jwksUrl?: string;
  issuer: string;
  audience: string;
}

const unauthorized = (diagnostics: string, error = 'invalid_token') =>
  new FhirError(401, { code: 'login', diagnostics }, { 'www-authenticate': `Bearer error="${error}"` });

/** A verified token is trusted again for at most this long (or until it expires, if sooner). */
const CACHE_MS = 60_000;
const CACHE_SIZE = 10_000;

/**
 * Verifies bearer tokens (contract §3) and turns their claims into a Caller. Signature checks are
 * the most expensive step of a request, and a client sends the same token many times: a verified
 * token is remembered briefly (never past its exp).
 */
export class TokenVerifier {
  private readonly keys: JWTVerifyGetKey;
  private readonly verified = new Map<string, { caller: Caller; until: number }>();

  constructor(private readonly options: TokenVerifierOptions) {
    if (options.jwksFile) {
      const jwks = JSON.parse(readFileSync(options.jwksFile, 'utf8')) as JSONWebKeySet;
      this.keys = createLocalJWKSet(jwks);
    } else if (options.jwksUrl) {
      this.keys = createRemoteJWKSet(new URL(options.jwksUrl));
    } else {
      throw new Error('a JWKS file or URL is required');
    }
  }

  async verify(authorization: string | undefined): Promise<Caller> {
    const match = /^Bearer ([A-Za-z0-9._~+/=-]+)$/.exec(authorization ?? '');
    if (!match) throw unauthorized('A bearer token is required (Authorization: Bearer <JWT>)', 'invalid_request');
    const remembered = this.verified.get(match[1]!);
    if (remembered && remembered.until > Date.now()) return remembered.caller;
    return this.verifyToken(match[1]!);
  }

  private async verifyToken(token: string): Promise<Caller> {
    let payload: unknown;
    try {
      ({ payload } = await jwtVerify(token, this.keys, {
        issuer: this.options.issuer,
        audience: this.options.audience,
        algorithms: ACCEPTED_ALGORITHMS,
        requiredClaims: ['exp'],
      }));
    } catch (error) {
      if (error instanceof errors.JWTExpired) throw unauthorized('The access token has expired');
      if (error instanceof errors.JWTClaimValidationFailed) throw unauthorized(`The access token's ${error.claim} claim is not accepted`);
      throw unauthorized('The access token is not valid');
    }
    const claims = claimsSchema.safeParse(payload);
    if (!claims.success) {
      const field = claims.error.issues[0]?.path.join('.') ?? 'claims';
      throw unauthorized(`The access token lacks a valid ${field} claim`);
    }
    const { scope, wor_role, wor_org, client_id, sub, name, uzi_nr } = claims.data;
    const personId = sub ?? uzi_nr;
    const caller: Caller = {
      role: wor_role,
      org: wor_org,
      clientId: client_id ?? sub ?? 'unknown',
      grants: parseScopes(scope),
      ...((name || uzi_nr) && personId ? { person: { id: personId, ...(name ? { name } : {}), ...(uzi_nr ? { uzi: uzi_nr } : {}) } } : {}),
    };
    const expiresAt = (payload as { exp: number }).exp * 1000;
    if (this.verified.size >= CACHE_SIZE) this.verified.clear();
    this.verified.set(token, { caller, until: Math.min(expiresAt, Date.now() + CACHE_MS) });
    return caller;
  }
}
