import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { KeyObject } from 'node:crypto';
import { jwtVerify } from 'jose';

export interface ReceivedCall {
  method: string;
  path: string;
  authorization?: string;
  requestId?: string;
  ifNoneExist?: string;
  /** `system|value` of the posted resource's first identifier. */
  identifier?: string;
  /** The status this server answered with. */
  status?: number;
}

type Json = Record<string, unknown>;

const FHIR_TYPES = /^(Communication|Patient|Practitioner|PractitionerRole|Organization|ServiceRequest|Task)$/;
const outcome = (code: string, diagnostics: string) => ({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code, diagnostics }] });

/** Every `reference` string in a resource, with its FHIRPath-ish location (as HAPI names it). */
function referencesIn(value: unknown, path: string): Array<{ path: string; reference: string }> {
  if (Array.isArray(value)) return value.flatMap((item, index) => referencesIn(item, `${path}[${index}]`));
  if (!value || typeof value !== 'object') return [];
  return Object.entries(value as Json).flatMap(([key, inner]) =>
    key === 'reference' && typeof inner === 'string' ? [{ path, reference: inner }] : key === 'contained' ? [] : referencesIn(inner, `${path}.${key}`),
  );
}

/**
 * The one fake GP system of the tests: a small but real FHIR server as strict as HAPI FHIR with its
 * defaults. On create it checks the JSON and the resourceType, enforces referential integrity (a
 * relative reference to a resource it does not hold: 422), refuses external (absolute) references
 * unless `allowExternalReferences`, and honours conditional create (`If-None-Exist`: no match
 * creates, one match answers it with 200, more than one 412). It keeps `meta.profile`, assigns its
 * own id and version, and answers `Location` with `_history`. It can also be told to fail, to
 * refuse, to redirect, to be down, and to act as a SMART Backend Services token endpoint.
 */
export class GpFhirServer {
  /** Stored resources by `Type/id`. */
  readonly resources = new Map<string, Json>();
  readonly calls: ReceivedCall[] = [];
  allowExternalReferences = false;
  /** Status codes to answer with, one per resource call, before behaving. */
  failWith: number[] = [];
  refuseWith: number | undefined;
  /** Answer every resource call with a 307 to this URL. */
  redirectTo: string | undefined;
  requiredToken: string | undefined;
  /** Store the next N resources but answer 503 (the answer is lost on the way back). */
  storeThenFail = 0;
  /** Store the next N resources but answer only after `stallMs` (past the caller's timeout). */
  storeThenStall = 0;
  stallMs = 0;
  /** SMART Backend Services: the key that must have signed the client assertion posted to /token. */
  smart: { key: KeyObject | CryptoKey; clientId: string } | undefined;
  tokenRequests = 0;
  readonly tokenErrors: string[] = [];
  port = 0;
  private server: Server | undefined;
  private sequence = 0;

  async start(port = this.port): Promise<void> {
    this.server = createServer((request, response) => void this.handle(request, response));
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }

  /** Back to well-behaved (the stored resources stay). */
  reset(): void {
    this.failWith = [];
    this.refuseWith = undefined;
    this.redirectTo = undefined;
    this.requiredToken = undefined;
    this.storeThenFail = 0;
    this.storeThenStall = 0;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}/fhir`;
  }

  get tokenUrl(): string {
    return `http://127.0.0.1:${this.port}/token`;
  }

  /** Puts a resource in the server as the GP system itself holds it (for references to resolve). */
  seed(resource: Json & { resourceType: string; id: string }): void {
    this.resources.set(`${resource.resourceType}/${resource.id}`, resource);
  }

  /** Stored resources of a type whose identifier matches `system|value` (or `|value`, or `value`). */
  find(type: string, token: string): Json[] {
    const [system, value] = token.includes('|') ? (token.split('|', 2) as [string, string]) : [undefined, token];
    return [...this.resources.values()].filter(
      (resource) =>
        resource.resourceType === type &&
        ((resource.identifier as Array<{ system?: string; value?: string }> | undefined) ?? []).some(
          (identifier) => identifier.value === value && (system === undefined || (system === '' ? !identifier.system : identifier.system === system)),
        ),
    );
  }

  /** Communications stored under this identifier (`system|value`). */
  communications(identifier: string): Json[] {
    return this.find('Communication', identifier);
  }

  callsFor(identifier: string): ReceivedCall[] {
    return this.calls.filter((call) => call.identifier === identifier);
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const send = (status: number, json: unknown, headers: Record<string, string> = {}) => {
      if (response.destroyed) return;
      response.writeHead(status, { 'content-type': headers['content-type'] ?? 'application/fhir+json', ...headers });
      response.end(JSON.stringify(json));
    };
    const url = new URL(request.url ?? '/', 'http://gp.test');
    if (request.method === 'POST' && url.pathname === '/token') return this.token(body, send);

    const match = /^\/fhir\/([A-Za-z]+)(?:\/([A-Za-z0-9.-]{1,64}))?$/.exec(url.pathname);
    if (!match) return send(404, outcome('not-found', 'Unknown path'));
    const [, type, id] = match as unknown as [string, string, string | undefined];
    const call: ReceivedCall = {
      method: request.method ?? '',
      path: url.pathname,
      authorization: request.headers.authorization,
      requestId: request.headers['x-request-id'] as string | undefined,
      ifNoneExist: request.headers['if-none-exist'] as string | undefined,
    };
    this.calls.push(call);
    const answer = (status: number, json: unknown, headers: Record<string, string> = {}) => {
      call.status = status;
      send(status, json, headers);
    };

    if (request.method === 'GET' && id) {
      const found = this.resources.get(`${type}/${id}`);
      return found ? answer(200, found) : answer(404, outcome('not-found', `${type}/${id} is not known`));
    }
    if (request.method !== 'POST' || id) return answer(405, outcome('not-supported', 'Only create and read'));
    let resource: Json | undefined;
    try {
      resource = JSON.parse(body) as Json;
    } catch {
      resource = undefined;
    }
    const identifier = (resource?.identifier as Array<{ system?: string; value?: string }> | undefined)?.[0];
    if (identifier) call.identifier = `${identifier.system ?? ''}|${identifier.value ?? ''}`;
    if (this.redirectTo) {
      call.status = 307;
      response.writeHead(307, { location: this.redirectTo });
      return void response.end();
    }
    if (this.requiredToken && request.headers.authorization !== `Bearer ${this.requiredToken}`) return answer(401, outcome('login', 'Unauthorized'));
    if (this.refuseWith) return answer(this.refuseWith, outcome('processing', 'Refused'));
    const failure = this.failWith.shift();
    if (failure) return answer(failure, outcome('transient', 'Try again'));

    if (!/^application\/(fhir\+)?json\b/.test(String(request.headers['content-type'] ?? ''))) return answer(415, outcome('not-supported', 'Send FHIR JSON'));
    if (!resource || typeof resource !== 'object' || Array.isArray(resource)) return answer(400, outcome('structure', 'The body is not a JSON object'));
    if (resource.resourceType !== type || !FHIR_TYPES.test(type)) return answer(400, outcome('structure', `Expected a ${type} resource`));

    // Conditional create, as HAPI: only the identifier search is offered here.
    if (call.ifNoneExist) {
      const criteria = new URLSearchParams(call.ifNoneExist.replace(/^.*\?/, ''));
      const token = criteria.get('identifier');
      if (!token || [...criteria.keys()].length !== 1) return answer(400, outcome('invalid', 'If-None-Exist: only identifier=system|value is supported'));
      const matches = this.find(type, token);
      if (matches.length > 1) return answer(412, outcome('duplicate', `${matches.length} resources match the If-None-Exist criteria`));
      if (matches.length === 1) return answer(200, matches[0]);
    }

    for (const { path, reference } of referencesIn(resource, type)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(reference)) {
        if (this.allowExternalReferences && /^https?:\/\//.test(reference)) continue;
        return answer(422, outcome('processing', `Resource contains external reference to URL "${reference}" at ${path}, but this server is not configured to allow external references`));
      }
      if (reference.startsWith('#')) {
        const contained = (resource.contained as Json[] | undefined) ?? [];
        if (contained.some((item) => `#${item.id}` === reference)) continue;
      } else if (this.resources.has(reference.split('/_history/')[0]!)) continue;
      return answer(422, outcome('processing', `Resource ${reference} not found, specified in path: ${path}`));
    }

    this.sequence += 1;
    const created = { ...resource, id: `gp-${this.sequence}`, meta: { ...(resource.meta as Json | undefined), versionId: '1', lastUpdated: new Date().toISOString() } };
    this.resources.set(`${type}/${created.id}`, created);
    if (this.storeThenFail > 0) {
      this.storeThenFail -= 1;
      return answer(503, outcome('transient', 'Lost answer'));
    }
    if (this.storeThenStall > 0) {
      this.storeThenStall -= 1;
      await new Promise((resolve) => setTimeout(resolve, this.stallMs));
    }
    return answer(201, created, { location: `${this.baseUrl}/${type}/${created.id}/_history/1` });
  }

  private async token(body: string, send: (status: number, json: unknown, headers?: Record<string, string>) => void): Promise<void> {
    const json = { 'content-type': 'application/json' };
    this.tokenRequests += 1;
    const form = new URLSearchParams(body);
    if (!this.smart) return send(400, { error: 'unsupported' }, json);
    if (form.get('grant_type') !== 'client_credentials') return send(400, { error: 'unsupported_grant_type' }, json);
    if (form.get('client_assertion_type') !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer') return send(400, { error: 'invalid_request' }, json);
    if (form.get('scope') !== 'system/Communication.c') return send(400, { error: 'invalid_scope' }, json);
    try {
      const { payload } = await jwtVerify(form.get('client_assertion') ?? '', this.smart.key, {
        issuer: this.smart.clientId,
        subject: this.smart.clientId,
        audience: this.tokenUrl,
        requiredClaims: ['exp', 'jti'],
      });
      // SMART Backend Services: exp no more than five minutes in the future.
      if (payload.exp! > Date.now() / 1000 + 300 + 5) throw new Error('exp too far');
    } catch (error) {
      this.tokenErrors.push((error as Error).message);
      return send(401, { error: 'invalid_client' }, json);
    }
    return send(200, { access_token: `smart-${this.tokenRequests}`, token_type: 'bearer', expires_in: 300, scope: 'system/Communication.c' }, json);
  }
}
