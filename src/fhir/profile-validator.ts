import { readdirSync, readFileSync } from 'node:fs';
import { indexStructureDefinitionBundle, loadDataType, validateResource } from '@medplum/core';
import type { Bundle, OperationOutcomeIssue, Resource, StructureDefinition } from 'fhir/r4.js';
import { packageFile } from '../package-files.js';
import { CONFORMANCE_DIR } from './conformance.js';

/**
 * The base R4 definitions the service validates against: the data types and the resource types its
 * profiles constrain, extracted by `npm run build:profiles` (scripts/validation-definitions.ts).
 * Indexing the whole R4 bundle instead cost ~100 MB of memory for types nobody sends us.
 */
export const BASE_DEFINITIONS = packageFile('profiles/r4-base-definitions.json');
const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, 'utf8')) as T;

let profiles: Map<string, StructureDefinition> | undefined;

/**
 * The base definitions and the service's own profiles, loaded into medplum's validator on first
 * use, so that only the processes that validate input pay for it.
 */
export function loadProfiles(): Map<string, StructureDefinition> {
  if (!profiles) {
    indexStructureDefinitionBundle(readJson<Bundle>(BASE_DEFINITIONS) as never);
    profiles = new Map();
    for (const file of readdirSync(CONFORMANCE_DIR).filter((name) => name.startsWith('StructureDefinition-'))) {
      const definition = readJson<StructureDefinition>(`${CONFORMANCE_DIR}${file}`);
      loadDataType(definition as never);
      profiles.set(definition.url, definition);
    }
  }
  return profiles;
}

/**
 * medplum returns warnings and throws an OperationOutcomeError for errors: this gives both as issues.
 * A resource type outside the indexed ones (say, a contained Observation) throws a plain error.
 */
function issuesOf(validate: () => OperationOutcomeIssue[]): OperationOutcomeIssue[] {
  try {
    return validate();
  } catch (error) {
    return (error as { outcome?: { issue?: OperationOutcomeIssue[] } }).outcome?.issue ?? [{ severity: 'error', code: 'processing', diagnostics: (error as Error).message }];
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
