import { createServer, type IncomingMessage, type Server } from 'node:http';
import { jwtVerify } from 'jose';

export interface ReceivedCall {
  authorization?: string;
  requestId?: string;
  ifNoneExist?: string;
}

/**
 * A small but real FHIR server standing in for a GP system: it stores Communications, honours
 * If-None-Exist on the identifier, and can be told to fail, to refuse, or to be down.
 */
export class GpFhirServer {
  readonly communications = new Map<string, Record<string, unknown>>();
  readonly calls: ReceivedCall[] = [];
  failNext = 0;
  refuseWith: number | undefined;
  /** Answer every Communication with a 307 to this URL. */
  redirectTo: string | undefined;
  requiredToken: string | undefined;
  /** For SMART backend services: the key that must have signed the client assertion. */
  clientKey: { key: CryptoKey | Uint8Array; clientId: string; tokenPath: string } | undefined;
  private server: Server | undefined;
  port = 0;

  async start(port = 0): Promise<void> {
    this.server = createServer((request, response) => void this.handle(request, response));
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server = undefined;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}/fhir`;
  }

  private async handle(request: IncomingMessage, response: import('node:http').ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const send = (status: number, json: unknown) => {
      response.writeHead(status, { 'content-type': 'application/fhir+json' });
      response.end(JSON.stringify(json));
    };
    if (this.clientKey && request.url === this.clientKey.tokenPath) {
      const form = new URLSearchParams(body);
      try {
        await jwtVerify(form.get('client_assertion') ?? '', this.clientKey.key, { issuer: this.clientKey.clientId, subject: this.clientKey.clientId, audience: `http://127.0.0.1:${this.port}${this.clientKey.tokenPath}` });
      } catch {
        return send(401, { error: 'invalid_client' });
      }
      return send(200, { access_token: 'smart-access-token', token_type: 'bearer', expires_in: 300 });
    }
    if (request.method !== 'POST' || request.url !== '/fhir/Communication') return send(404, { resourceType: 'OperationOutcome' });
    this.calls.push({
      authorization: request.headers.authorization,
      requestId: request.headers['x-request-id'] as string | undefined,
      ifNoneExist: request.headers['if-none-exist'] as string | undefined,
    });
    if (this.redirectTo) {
      response.writeHead(307, { location: this.redirectTo });
      return void response.end();
    }
    if (this.requiredToken && request.headers.authorization !== `Bearer ${this.requiredToken}`) return send(401, { resourceType: 'OperationOutcome' });
    if (this.refuseWith) return send(this.refuseWith, { resourceType: 'OperationOutcome' });
    if (this.failNext > 0) {
      this.failNext -= 1;
      return send(503, { resourceType: 'OperationOutcome' });
    }
    const identifier = /^identifier=(.+)$/.exec(String(request.headers['if-none-exist'] ?? ''))?.[1];
    const existing = identifier ? this.communications.get(identifier) : undefined;
    if (existing) return send(200, existing);
    const resource = { ...(JSON.parse(body) as Record<string, unknown>), id: `gp-${this.communications.size + 1}` };
    this.communications.set(identifier ?? String(resource.id), resource);
    return send(201, resource);
  }
}
