import type { CapabilityStatementRestResource } from 'fhir/r4.js';
import { FhirError } from '../../fhir/operation-outcome.js';
import { capabilityStatement } from './capability-statement.js';

/** Where on a type an interaction is addressed, as in the FHIR RESTful API. */
type Level = 'type' | 'search' | 'type-history' | 'instance' | 'instance-history' | 'version';

type Code = NonNullable<CapabilityStatementRestResource['interaction']>[number]['code'];

const ADDRESS: Record<Code, Array<[Level, string]>> = {
  read: [['instance', 'GET']],
  vread: [['version', 'GET']],
  'history-instance': [['instance-history', 'GET']],
  'history-type': [['type-history', 'GET']],
  update: [['instance', 'PUT']],
  patch: [['instance', 'PATCH']],
  delete: [['instance', 'DELETE']],
  create: [['type', 'POST']],
  'search-type': [['type', 'GET'], ['search', 'POST']],
};

/** `/fhir/{type}[/{id}[/_history[/{vid}]]]` or `/fhir/{type}/_search|_history`, split without a regex on the input. */
function address(url: string): { type: string; level: Level } | undefined {
  const [empty, fhir, type, id, operation, version, ...rest] = url.split('?')[0]!.split('/');
  if (empty !== '' || fhir !== 'fhir' || !type || rest.length > 0) return undefined;
  if (id === undefined) return { type, level: 'type' };
  if (operation === undefined) return { type, level: id === '_search' ? 'search' : id === '_history' ? 'type-history' : 'instance' };
  if (operation !== '_history') return undefined;
  return { type, level: version === undefined ? 'instance-history' : 'version' };
}

/** The methods /fhir offers per type and level: read off the CapabilityStatement, the one table of what is offered. */
const OFFERED = new Map<string, Map<Level, string[]>>(
  (capabilityStatement('', []).rest?.[0]?.resource ?? []).map((resource) => {
    const methods = new Map<Level, string[]>();
    for (const { code } of resource.interaction ?? []) {
      for (const [level, method] of ADDRESS[code]) methods.set(level, [...(methods.get(level) ?? []), method]);
    }
    return [resource.type, methods];
  }),
);

/**
 * For a request no route answers: the methods offered at its address when it names a type the
 * server serves (the request then gets 405 with `Allow`), or undefined (404).
 */
export function offeredMethods(url: string): string[] | undefined {
  const target = address(url);
  const methods = target && OFFERED.get(target.type);
  return methods ? (methods.get(target.level) ?? []) : undefined;
}

/** 405: the server serves the type but does not offer this interaction on it. */
export function notOffered(method: string, url: string): FhirError {
  const allowed = offeredMethods(url) ?? [];
  return new FhirError(
    405,
    { code: 'not-supported', diagnostics: `${method} is not offered here${allowed.length ? `; this address takes ${allowed.join(', ')}` : ''} (see /fhir/metadata)` },
    { allow: allowed.join(', ') },
  );
}
