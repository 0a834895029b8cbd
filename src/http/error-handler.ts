import type { FastifyError, FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { FHIR_JSON } from '../fhir/media-type.js';
import { FhirError, operationOutcome, type Issue } from '../fhir/operation-outcome.js';
import { isConcurrencyFailure, isDatabaseUnavailable } from '../store/postgres.js';
import { notOffered, offeredMethods } from './fhir/interactions.js';

/** Fastify's own errors for bad requests, translated to precise OperationOutcome issues. */
const FRAMEWORK_ERRORS: Record<string, (error: FastifyError) => [number, Issue]> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: () => [
    415,
    { code: 'not-supported', diagnostics: 'Content-Type must be application/fhir+json or application/json' },
  ],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: () => [400, { code: 'structure', diagnostics: 'Content-Length does not match the body' }],
  FST_ERR_CTP_BODY_TOO_LARGE: () => [413, { code: 'too-costly', diagnostics: 'Request body is larger than the service accepts' }],
  FST_ERR_CTP_EMPTY_JSON_BODY: () => [400, { code: 'structure', diagnostics: 'Request body is empty; a JSON document is required' }],
  FST_ERR_CTP_INVALID_JSON_BODY: () => [400, { code: 'structure', diagnostics: 'Request body is not valid JSON' }],
};

function isRedisUnavailable(error: Error): boolean {
  const name = error.name ?? '';
  const message = error.message ?? '';
  return (
    name === 'MaxRetriesPerRequestError' ||
    /Connection is closed|ECONNREFUSED|ECONNRESET|Stream isn't writeable|enableOfflineQueue/.test(message)
  );
}

/**
 * The one place where errors leave the service: always an OperationOutcome, never a stack trace,
 * never the original message of an unexpected error (it could hold patient data).
 */
export default fp(
  async function errorHandler(app: FastifyInstance) {
    app.setErrorHandler((error: FastifyError, request, reply) => {
      let status: number;
      let issues: Issue[];
      if (error instanceof FhirError) {
        status = error.statusCode;
        issues = error.issues;
        reply.headers(error.headers);
      } else if (error.code && FRAMEWORK_ERRORS[error.code]) {
        const [code, issue] = FRAMEWORK_ERRORS[error.code]!(error);
        status = code;
        issues = [issue];
      } else if (error instanceof SyntaxError || (error.statusCode === 400 && /JSON/i.test(error.message))) {
        status = 400;
        issues = [{ code: 'structure', diagnostics: 'Request body is not valid JSON' }];
      } else if (error.statusCode === 429) {
        status = 429;
        issues = [{ code: 'throttled', diagnostics: 'Too many requests; slow down and retry later' }];
      } else if (isRedisUnavailable(error) || isDatabaseUnavailable(error)) {
        status = 503;
        issues = [{ code: 'transient', diagnostics: 'Storage is temporarily unavailable; retry later' }];
        reply.header('retry-after', '5');
      } else if (isConcurrencyFailure(error)) {
        status = 503;
        issues = [{ code: 'transient', diagnostics: 'Concurrent writes to the same records collided; retry the same request' }];
        reply.header('retry-after', '1');
      } else if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
        status = error.statusCode;
        issues = [{ code: 'invalid', diagnostics: 'The request was not understood' }];
      } else {
        status = 500;
        issues = [{ code: 'exception', diagnostics: 'Internal error; it has been logged with the request id' }];
      }
      if (status >= 500) {
        // The message is left out on purpose: an unexpected error's text may quote input data.
        // Only the `at …` lines: a message may span several lines (a ZodError lists received values).
        const frames = error.stack?.split('\n').filter((line) => /^\s+at /.test(line)).join('\n');
        request.log.error({ err: { type: error.name, code: error.code, frames } }, 'request failed');
      } else {
        request.log.info({ status, issue: issues[0]?.code, expression: issues[0]?.expression }, 'request refused');
      }
      return reply.code(status).type(FHIR_JSON).send(operationOutcome(issues));
    });

    app.setNotFoundHandler((request, reply) => {
      // A type the server serves, an interaction it does not offer there (DELETE, PUT on a read-only type): 405.
      const offered = offeredMethods(request.url);
      if (offered && !offered.includes(request.method)) throw notOffered(request.method, request.url);
      reply
        .code(404)
        .type(FHIR_JSON)
        .send(operationOutcome([{ code: 'not-found', diagnostics: `No such endpoint for ${request.method}` }]));
    });
  },
  { name: 'error-handler' },
);
