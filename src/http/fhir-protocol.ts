import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Config } from '../config.js';
import { FhirError } from '../fhir/operation-outcome.js';

/** Media ranges an `Accept` header may name for the server's JSON; `_format` values meaning JSON. */
const JSON_RANGE = /^(application\/(fhir\+json|json\+fhir|json|\*)|\*\/\*)$/;
const JSON_FORMAT = /^(json|application\/(fhir\+json|json\+fhir|json))$/;

const mediaType = (text: string) => text.split(';')[0]!.trim().toLowerCase();

/** True when the Accept header is absent or names a JSON range with a non-zero weight. */
function acceptsJson(accept: string | undefined): boolean {
  if (!accept?.trim()) return true;
  return accept.split(',').some((range) => {
    const weight = range.split(';').slice(1).map((param) => param.trim()).find((param) => param.startsWith('q='));
    return JSON_RANGE.test(mediaType(range)) && (weight === undefined || Number(weight.slice(2)) > 0);
  });
}

const notAcceptable = (expression?: string) =>
  new FhirError(406, {
    code: 'not-supported',
    ...(expression ? { expression } : {}),
    diagnostics: 'This server answers in JSON only (application/fhir+json); XML and other formats are not offered',
  });

/**
 * HTTP as FHIR clients expect it, for every route in one place: a client asking for XML (Accept or
 * `_format`) gets 406 rather than JSON it cannot read, and a Location header is an absolute URL under
 * PUBLIC_BASE_URL whichever route set it.
 */
export default fp(
  async function fhirProtocol(app: FastifyInstance, { config }: { config: Config }) {
    const base = config.PUBLIC_BASE_URL;
    app.addHook('onRequest', async (request) => {
      if (!request.url.startsWith('/fhir')) return;
      const format = (request.query as Record<string, string | string[] | undefined>)._format;
      for (const value of Array.isArray(format) ? format : format === undefined ? [] : [format]) {
        if (!JSON_FORMAT.test(mediaType(value))) throw notAcceptable('_format');
      }
      if (!acceptsJson(request.headers.accept)) throw notAcceptable();
    });
    app.addHook('onSend', async (_request, reply, payload) => {
      for (const header of ['location', 'content-location']) {
        const value = reply.getHeader(header);
        if (typeof value === 'string' && value.startsWith('/')) reply.header(header, `${base}${value}`);
      }
      return payload;
    });
  },
  { name: 'fhir-protocol' },
);
