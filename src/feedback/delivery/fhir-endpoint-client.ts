import type { Secrets } from '../../config.js';
import { createPrivateKey, randomUUID, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Communication } from 'fhir/r4.js';
import { Client } from 'fhir-kit-client';
import { SignJWT, type JWK } from 'jose';
import type { Practice } from '../../directory/directory.js';
import { ownIdentifier } from './gp-communication.js';

/** Why a delivery attempt failed, and whether trying again can help. */
export class DeliveryFailure extends Error {
  constructor(
    /** Short and free of patient data: `HTTP 503`, `timeout`, `network`, `no endpoint`. */
    readonly reason: string,
    readonly retryable: boolean,
  ) {
    super(reason);
  }
}

/** An answer that is not a success: worth trying again only for 408, 429 and server errors. */
export const failedAnswer = (status: number) => new DeliveryFailure(`HTTP ${status}`, status === 408 || status === 429 || status >= 500);

/** A call that got no answer (timed out, or the network failed): worth trying again. */
export const noAnswer = (error: Error) => new DeliveryFailure(error.name === 'TimeoutError' || error.name === 'AbortError' ? 'timeout' : 'network', true);

type Endpoint = NonNullable<Practice['fhirEndpoint']>;

const EC_ALGORITHMS: Record<string, string> = { prime256v1: 'ES256', secp384r1: 'ES384', secp521r1: 'ES512' };

/** SMART Backend Services: a client assertion signed with the practice's key buys an access token. */
class SmartBackendTokens {
  private cached: { token: string; until: number } | undefined;

  constructor(private readonly auth: Extract<NonNullable<Endpoint['auth']>, { type: 'smart-backend' }>, private readonly timeoutMs: number) {}

  /**
   * The practice's key as a JWK or a PEM (PKCS#8, PKCS#1 or SEC1); the algorithm follows from the
   * key (EC curve P-256/384/521 → ES256/384/512, RSA → RS384). A key that cannot be used is a
   * configuration error: parked, not retried.
   */
  private signingKey(): { key: KeyObject; alg: string; kid?: string } {
    let key: KeyObject;
    let jwk: JWK | undefined;
    try {
      const text = readFileSync(this.auth.keyFile, 'utf8');
      jwk = text.trim().startsWith('{') ? (JSON.parse(text) as JWK) : undefined;
      key = jwk ? createPrivateKey({ key: jwk as never, format: 'jwk' }) : createPrivateKey(text);
    } catch {
      throw new DeliveryFailure('the SMART signing key cannot be read', false);
    }
    const curve = key.asymmetricKeyDetails?.namedCurve;
    const alg = jwk?.alg ?? (key.asymmetricKeyType === 'ec' ? EC_ALGORITHMS[curve ?? ''] : key.asymmetricKeyType === 'rsa' ? 'RS384' : undefined);
    if (!alg) throw new DeliveryFailure('the SMART signing key is neither RSA nor EC P-256/384/521', false);
    return { key, alg, kid: jwk?.kid };
  }

  /** The GP system refused the token: the next attempt buys a new one. */
  forget(): void {
    this.cached = undefined;
  }

  async token(): Promise<string> {
    if (this.cached && this.cached.until > Date.now()) return this.cached.token;
    const { key, alg, kid } = this.signingKey();
    const assertion = await new SignJWT({})
      .setProtectedHeader({ alg, typ: 'JWT', ...(kid ? { kid } : {}) })
      .setIssuer(this.auth.client_id)
      .setSubject(this.auth.client_id)
      .setAudience(this.auth.tokenUrl)
      .setJti(randomUUID())
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(key);
    const response = await fetch(this.auth.tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        scope: 'system/Communication.c',
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: assertion,
      }),
      signal: AbortSignal.timeout(this.timeoutMs),
      // Only the directory's URLs are called: a redirect elsewhere is an error, never followed.
      redirect: 'error',
    }).catch((error: Error) => {
      throw new DeliveryFailure(error.name === 'TimeoutError' ? 'token timeout' : 'token network', true);
    });
    if (!response.ok) throw new DeliveryFailure(`token HTTP ${response.status}`, response.status === 429 || response.status >= 500);
    const body = (await response.json()) as { access_token?: string; expires_in?: number };
    if (!body.access_token) throw new DeliveryFailure('token response without access_token', false);
    this.cached = { token: body.access_token, until: Date.now() + Math.max(0, (body.expires_in ?? 300) - 30) * 1000 };
    return body.access_token;
  }
}

/**
 * Posts Communications to one practice's FHIR endpoint (from the directory, never from a message):
 * conditional create on the identifier, so a retry never makes a second one there.
 */
export class FhirEndpointClient {
  private readonly smart: SmartBackendTokens | undefined;

  constructor(
    private readonly endpoint: Endpoint,
    private readonly timeoutMs: number,
    private readonly secrets: Secrets,
  ) {
    this.smart = endpoint.auth?.type === 'smart-backend' ? new SmartBackendTokens(endpoint.auth, timeoutMs) : undefined;
  }

  private async authorization(): Promise<Record<string, string>> {
    const auth = this.endpoint.auth;
    if (!auth) return {};
    if (auth.type === 'bearer') {
      const token = this.secrets.get(auth.tokenEnv);
      if (!token) throw new DeliveryFailure(`bearer token variable ${auth.tokenEnv} is not set`, false);
      return { authorization: `Bearer ${token}` };
    }
    return { authorization: `Bearer ${await this.smart!.token()}` };
  }

  async deliver(communication: Communication, requestId: string): Promise<void> {
    const identifier = ownIdentifier(communication);
    const client = new Client({ baseUrl: this.endpoint.url });
    try {
      await client.create({
        resourceType: 'Communication',
        body: communication as never,
        options: {
          headers: {
            ...(await this.authorization()),
            'content-type': 'application/fhir+json',
            accept: 'application/fhir+json',
            'if-none-exist': `identifier=${encodeURIComponent(`${identifier?.system}|${identifier?.value}`)}`,
            'x-request-id': requestId,
          },
          signal: AbortSignal.timeout(this.timeoutMs),
          redirect: 'error',
        },
      });
    } catch (error) {
      if (error instanceof DeliveryFailure) throw error;
      const status = (error as { response?: { status?: number } }).response?.status;
      // Stored, but the answer's body was not the JSON the client expected: delivered all the same.
      if (status && status >= 200 && status < 300) return;
      if (status === 401) this.smart?.forget();
      if (status) throw failedAnswer(status);
      throw noAnswer(error as Error);
    }
  }
}
