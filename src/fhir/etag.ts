import type { FastifyReply } from 'fastify';
import type { Resource } from 'fhir/r4.js';
import { FHIR_JSON } from './media-type.js';
import { badRequest } from './operation-outcome.js';

/** Sends a resource with its version as a weak ETag and Last-Modified (contract §2). */
export function sendResource(reply: FastifyReply, resource: Resource, status = 200): FastifyReply {
  const { versionId, lastUpdated } = resource.meta ?? {};
  if (versionId) reply.header('etag', `W/"${versionId}"`);
  if (lastUpdated) reply.header('last-modified', new Date(lastUpdated).toUTCString());
  return reply.code(status).type(FHIR_JSON).send(resource);
}

/** The version an If-Match header asks for (`W/"3"` or `"3"`), or undefined without one. */
export function parseIfMatch(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const version = /^(?:W\/)?"([0-9]+)"$/.exec(header.trim())?.[1];
  if (!version) throw badRequest('If-Match must be an ETag such as W/"3"', 'If-Match');
  return version;
}
