import { FhirError } from './operation-outcome.js';

/** Refuses (400, one issue each) the query parameters a route does not take: never ignored. */
export function onlyParameters(query: Record<string, unknown>, allowed: string[]): void {
  const unsupported = Object.keys(query).filter((name) => !allowed.includes(name));
  if (unsupported.length > 0) {
    throw new FhirError(400, unsupported.map((name) => ({ code: 'not-supported' as const, expression: name, diagnostics: `Parameter ${name} is not supported here; use ${allowed.join(', ') || 'none'}` })));
  }
}
