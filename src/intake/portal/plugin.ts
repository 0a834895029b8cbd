import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Config, Secrets } from '../../config.js';
import type { Directory, Portal } from '../../directory/directory.js';
import { FhirError, notFound } from '../../fhir/operation-outcome.js';
import { readEnvelope } from './document-to-referral.js';
import type { InboundMessage, InboundService } from './inbound-service.js';

declare module 'fastify' {
  interface FastifyRequest {
    rawBody?: string;
  }
}

const unauthorized = (diagnostics: string) => new FhirError(401, { code: 'security', diagnostics }, { 'www-authenticate': 'Bearer' });

/** `X-Signature: sha256=<hex HMAC of the raw body>` with the portal's secret, when the directory names one. */
function verifySignature(portal: Portal, request: FastifyRequest, secrets: Secrets): void {
  if (!portal.hmacSecretEnv) return;
  const secret = secrets.get(portal.hmacSecretEnv);
  if (!secret) throw new FhirError(503, { code: 'transient', diagnostics: 'The signature secret of this portal is not configured' });
  const header = request.headers['x-signature'];
  const given = typeof header === 'string' ? /^sha256=([0-9a-f]{64})$/.exec(header)?.[1] : undefined;
  if (!given) throw unauthorized('A signed push is required: X-Signature: sha256=<hex HMAC-SHA256 of the body>');
  const expected = createHmac('sha256', secret).update(request.rawBody ?? '').digest();
  if (!timingSafeEqual(expected, Buffer.from(given, 'hex'))) throw unauthorized('The signature does not match the body');
}

/** What a portal may see of a message: the outcome, never the document. */
const statusOf = (message: InboundMessage, base: string) => ({ ...message, statusUrl: `${base}/inbound/${message.portal}/messages/${message.id}` });

export interface PortalRouteOptions {
  config: Config;
  directory: Directory;
  secrets: Secrets;
  inbound: InboundService;
}

/** Documents pushed by referral portals (contract §5.2): stored as received, converted in the background. */
export default fp(
  async function portalIntake(app: FastifyInstance, { config, directory, secrets, inbound: service }: PortalRouteOptions) {
    const base = config.PUBLIC_BASE_URL;

    function ownPortal(request: FastifyRequest<{ Params: { portal: string } }>): Portal {
      const { caller } = request;
      const portal = directory.portal(request.params.portal);
      if (!portal || (caller.role === 'portal' && caller.org !== portal.id)) throw notFound(`Portal ${request.params.portal}`);
      return portal;
    }

    await app.register(async (portalRoutes) => {
      // The signature covers the raw body, so these routes keep it next to the parsed JSON.
      portalRoutes.removeAllContentTypeParsers();
      const parseJson = portalRoutes.getDefaultJsonParser('error', 'error');
      portalRoutes.addContentTypeParser(['application/fhir+json', 'application/json'], { parseAs: 'string', bodyLimit: config.INBOUND_BODY_LIMIT_BYTES }, (request, body, done) => {
        request.rawBody = body as string;
        parseJson(request, body as string, done);
      });
      const receive = async (request: FastifyRequest<{ Params: { portal: string } }>, reply: FastifyReply) => {
        const portal = ownPortal(request);
        verifySignature(portal, request, secrets);
        const envelope = readEnvelope(request.body);
        const { id, created } = await service.receive(portal.id, request.rawBody!, envelope);
        const statusUrl = `${base}/inbound/${portal.id}/messages/${id}`;
        reply.code(202).header('location', statusUrl).header('content-location', statusUrl);
        if (/return=minimal/.test(String(request.headers.prefer ?? ''))) return reply.send();
        return reply.send({ id, status: created ? 'received' : 'duplicate', statusUrl });
      };
      const push = { config: { roles: ['portal'], scope: 'Bundle.c' } } as const;
      portalRoutes.post('/inbound/:portal', push, receive);
      portalRoutes.post('/inbound/:portal/Bundle', push, receive);
    });

    app.get<{ Params: { portal: string; id: string } }>('/inbound/:portal/messages/:id', { config: { roles: ['portal', 'operator'] } }, async (request) => {
      const portal = ownPortal(request);
      const message = await service.message(request.params.id);
      if (!message || message.portal !== portal.id) throw notFound('Message');
      return statusOf(message, base);
    });

    app.get<{ Querystring: { portal?: string } }>('/operator/inbound', { config: { roles: ['operator'] } }, async (request) => {
      return { failed: (await service.failed(request.query.portal)).map((message) => statusOf(message, base)) };
    });

    app.post<{ Params: { id: string } }>('/operator/inbound/:id/replay', { config: { roles: ['operator'] } }, async (request, reply) => {
      await service.replay(request.params.id);
      return reply.code(202).send({ id: request.params.id, status: 'received' });
    });
  },
  { name: 'portal-routes' },
);
