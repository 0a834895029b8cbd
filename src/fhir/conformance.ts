import { readdirSync, readFileSync } from 'node:fs';
import type { Resource } from 'fhir/r4.js';
import { packageFile } from '../package-files.js';

/** The compiled profiles, code systems and value sets in profiles/fsh-generated (built by SUSHI). */
export const CONFORMANCE_DIR = packageFile('profiles/fsh-generated/resources/');
export const CONFORMANCE_TYPES = ['StructureDefinition', 'CodeSystem', 'ValueSet', 'Measure'] as const;

export function loadConformanceResources(directory = CONFORMANCE_DIR): Map<string, Resource> {
  const resources = new Map<string, Resource>();
  for (const file of readdirSync(directory).filter((name) => name.endsWith('.json'))) {
    const resource = JSON.parse(readFileSync(`${directory}${file}`, 'utf8')) as Resource;
    if ((CONFORMANCE_TYPES as readonly string[]).includes(resource.resourceType)) {
      resources.set(`${resource.resourceType}/${resource.id}`, resource);
    }
  }
  return resources;
}
