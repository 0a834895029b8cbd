import type { CodeableConcept, Identifier, Reference, Resource } from 'fhir/r4.js';

/**
 * The search parameters the service indexes (contract §8). Each extracts the index values of a
 * resource: a token with a system as `system|code`, `code` and `system|` (any code in the system), one
 * without as `code` and `|code` (no system), so every token form of the FHIR spec is one index lookup;
 * references as `Type/id`. The same extraction serves the writer (which sets to add and remove) and
 * the reader (which set to look in).
 */
export type SearchParameterType = 'token' | 'reference';

export interface SearchParameter {
  name: string;
  type: SearchParameterType;
  /** For references: the resource type a bare id refers to. */
  target?: string;
  extract(resource: Resource): string[];
}

type AnyResource = Record<string, unknown>;

const tokens = (system: string | undefined, code: string | undefined): string[] =>
  code ? (system ? [`${system}|${code}`, code, `${system}|`] : [code, `|${code}`]) : [];
const identifierTokens = (identifiers: Identifier[] | undefined) =>
  (identifiers ?? []).flatMap((identifier) => tokens(identifier.system, identifier.value));
const conceptTokens = (concept: CodeableConcept | undefined) =>
  (concept?.coding ?? []).flatMap((coding) => tokens(coding.system, coding.code));
const references = (...refs: (Reference | undefined)[]) =>
  refs.flatMap((ref) => (ref?.reference && /^[A-Za-z]+\/[A-Za-z0-9.-]+$/.test(ref.reference) ? [ref.reference] : []));

const field = <T>(resource: Resource, name: string) => (resource as unknown as AnyResource)[name] as T;
const token = (name: string, path: string): SearchParameter => ({
  name,
  type: 'token',
  extract: (resource) => {
    const value = field<unknown>(resource, path);
    return typeof value === 'string' ? [value] : [];
  },
});
const reference = (name: string, path: string, target: string): SearchParameter => ({
  name,
  type: 'reference',
  target,
  extract: (resource) => {
    const value = field<Reference | Reference[] | undefined>(resource, path);
    return references(...(Array.isArray(value) ? value : [value]));
  },
});
const identifier: SearchParameter = {
  name: 'identifier',
  type: 'token',
  extract: (resource) => identifierTokens(field<Identifier[] | undefined>(resource, 'identifier')),
};

export const SEARCH_PARAMETERS: Record<string, SearchParameter[]> = {
  Task: [
    reference('owner', 'owner', 'Organization'),
    token('status', 'status'),
    { name: 'business-status', type: 'token', extract: (resource) => conceptTokens(field(resource, 'businessStatus')) },
    reference('patient', 'for', 'Patient'),
    reference('focus', 'focus', 'ServiceRequest'),
    reference('based-on', 'basedOn', 'ServiceRequest'),
    reference('requester', 'requester', 'PractitionerRole'),
    identifier,
  ],
  ServiceRequest: [
    identifier,
    reference('patient', 'subject', 'Patient'),
    reference('requester', 'requester', 'PractitionerRole'),
    token('status', 'status'),
  ],
  Communication: [
    reference('recipient', 'recipient', 'PractitionerRole'),
    reference('based-on', 'basedOn', 'ServiceRequest'),
    reference('patient', 'subject', 'Patient'),
    identifier,
  ],
  Patient: [identifier],
  DocumentReference: [
    reference('patient', 'subject', 'Patient'),
    {
      name: 'related',
      type: 'reference',
      target: 'ServiceRequest',
      extract: (resource) => references(...(field<{ related?: Reference[] } | undefined>(resource, 'context')?.related ?? [])),
    },
  ],
};

/** `_include` targets per type: `Task:focus` includes the resource Task.focus points at. */
export const INCLUDES: Record<string, Record<string, (resource: Resource) => string[]>> = {
  Task: {
    focus: (task) => references(field(task, 'focus')),
    patient: (task) => references(field(task, 'for')),
    owner: (task) => references(field(task, 'owner')),
    'based-on': (task) => references(...(field<Reference[] | undefined>(task, 'basedOn') ?? [])),
    requester: (task) => references(field(task, 'requester')),
  },
  ServiceRequest: {
    patient: (request) => references(field(request, 'subject')),
    requester: (request) => references(field(request, 'requester')),
  },
  Communication: {
    'based-on': (communication) => references(...(field<Reference[] | undefined>(communication, 'basedOn') ?? [])),
    patient: (communication) => references(field(communication, 'subject')),
  },
};

/**
 * Changes whenever what `indexEntries` extracts changes: the store then rebuilds the index of what
 * was written before (2: `system|` and `|code` tokens, Task `requester`; 3: each entry once).
 */
export const SEARCH_INDEX_VERSION = 3;

/** `_revinclude` sources per target type: every reference parameter of another type that points at it. */
export function revIncludes(target: string): Array<{ source: string; param: string }> {
  return Object.entries(SEARCH_PARAMETERS).flatMap(([source, parameters]) =>
    parameters.filter((parameter) => parameter.type === 'reference' && parameter.target === target).map((parameter) => ({ source, param: parameter.name })),
  );
}

/**
 * Index entries `param=value` of a resource, each once: two identifiers of one system both give
 * `system|`, and a resource found twice in one range would be counted and shown twice.
 */
export function indexEntries(resource: Resource): Array<[string, string]> {
  return (SEARCH_PARAMETERS[resource.resourceType] ?? []).flatMap((parameter) =>
    [...new Set(parameter.extract(resource))].map((value) => [parameter.name, value] as [string, string]),
  );
}
