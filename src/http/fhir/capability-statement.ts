import type { CapabilityStatement, CapabilityStatementRestResource, Resource, StructureDefinition } from 'fhir/r4.js';
import { CONFORMANCE_TYPES } from '../../fhir/conformance.js';
import { PROFILE } from '../../fhir/profiles.js';
import { INCLUDES, revIncludes, SEARCH_PARAMETERS } from '../../fhir/search-parameters.js';
import { SUBSCRIPTION_CAPABILITIES } from '../../subscriptions/capabilities.js';
import { STORED_TYPES } from './resource-types.js';

/** The writes /fhir takes besides the transaction (src/http/fhir/write-routes.ts, src/http/fhir/communication-routes.ts). */
const WRITES: Record<string, Array<'update' | 'patch' | 'create'>> = {
  Task: ['update', 'patch'],
  ServiceRequest: ['patch'],
  Communication: ['create'],
};
/** Creates that honour `If-None-Exist` (src/http/fhir/communication-routes.ts). */
const CONDITIONAL_CREATE = new Set(['Communication']);

export const SMART_SECURITY_SERVICE = { system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'SMART-on-FHIR' };
const OAUTH_URIS = 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris';

export interface SecurityOptions {
  /** The identity provider's token endpoint (AUTH_TOKEN_URL), when configured. */
  tokenUrl?: string;
}

/** The chains a reference parameter takes (`patient.identifier`): the token parameters of its target. */
function chainDocumentation(name: string, target: string | undefined): string {
  const chains = (SEARCH_PARAMETERS[target ?? ''] ?? []).filter((parameter) => parameter.type === 'token').map((parameter) => `${name}.${parameter.name}`);
  return `Type/id, an absolute URL or a bare id of a ${target}${chains.length ? `; chained: ${chains.join(', ')}` : ''}`;
}

/** What /fhir really supports, generated from the same tables the routes use, so it cannot drift. */
export function capabilityStatement(baseUrl: string, conformance: Resource[], security: SecurityOptions = {}): CapabilityStatement {
  const profiles = conformance.filter(
    (resource): resource is StructureDefinition =>
      resource.resourceType === 'StructureDefinition' && (resource as StructureDefinition).kind === 'resource',
  );

  const stored: CapabilityStatementRestResource[] = STORED_TYPES.map((type) => {
    const supportedProfile = profiles.filter((profile) => profile.type === type).map((profile) => profile.url);
    return {
      type,
      ...(supportedProfile.length ? { supportedProfile } : {}),
      interaction: [
        { code: 'read' as const },
        { code: 'vread' as const },
        { code: 'history-instance' as const },
        { code: 'search-type' as const },
        ...(WRITES[type] ?? []).map((code) => ({ code })),
      ],
      versioning: 'versioned',
      readHistory: true,
      ...((WRITES[type] ?? []).includes('create') ? { conditionalCreate: CONDITIONAL_CREATE.has(type) } : {}),
      ...(INCLUDES[type] ? { searchInclude: Object.keys(INCLUDES[type]).map((param) => `${type}:${param}`) } : {}),
      ...(revIncludes(type).length ? { searchRevInclude: revIncludes(type).map(({ source, param }) => `${source}:${param}`) } : {}),
      searchParam: [
        { name: '_id', type: 'token' },
        { name: '_lastUpdated', type: 'date' },
        { name: '_count', type: 'number' },
        { name: '_sort', type: 'string', documentation: '_lastUpdated (oldest first) or -_lastUpdated (newest first, the default); nothing else' },
        { name: '_cursor', type: 'string', documentation: 'Where the next page starts: use the next link as given' },
        ...(SEARCH_PARAMETERS[type] ?? []).map((parameter) => ({
          name: parameter.name,
          type: parameter.type,
          ...(parameter.type === 'reference' ? { documentation: chainDocumentation(parameter.name, parameter.target) } : {}),
        })),
      ],
    };
  });
  const conformanceTypes = CONFORMANCE_TYPES.map(
    (type): CapabilityStatementRestResource => ({
      type,
      interaction: [{ code: 'read' }, { code: 'search-type' }],
      searchParam: [{ name: 'url', type: 'uri' }],
      ...(type === 'Measure'
        ? { operation: [{ name: 'evaluate-measure', definition: 'http://hl7.org/fhir/OperationDefinition/Measure-evaluate-measure', documentation: 'GET only; periodStart, periodEnd, subject (a team Organization); reportType summary' }] }
        : {}),
    }),
  );
  const outcomeReports: CapabilityStatementRestResource = {
    type: 'MeasureReport',
    supportedProfile: [PROFILE.OutcomeReport],
    documentation: 'Computed when asked (src/reports/), not stored: one summary report per team and period',
    interaction: [{ code: 'search-type' }],
    searchParam: [
      { name: 'subject', type: 'reference', documentation: 'Organization/team-{id}' },
      { name: 'period', type: 'date', documentation: 'A month (2026-10), a quarter (2026-Q3) or a year (2026)' },
      { name: 'measure', type: 'reference' },
    ],
  };

  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: '2026-11-24',
    publisher: 'wor-bridge',
    kind: 'instance',
    software: { name: 'wor-bridge', version: '0.1.0' },
    implementation: { description: 'wor-bridge: Welzijn op Recept referrals between GP systems and sociaal wijkteams', url: `${baseUrl}/fhir` },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'application/json'],
    patchFormat: ['application/json-patch+json'],
    rest: [
      {
        mode: 'server',
        security: {
          ...(security.tokenUrl ? { extension: [{ url: OAUTH_URIS, extension: [{ url: 'token', valueUri: security.tokenUrl }] }] } : {}),
          service: [{ coding: [SMART_SECURITY_SERVICE] }],
          description:
            'SMART Backend Services: a bearer JWT (RS256/RS384/ES256/ES384) from the identity provider (see /.well-known/smart-configuration) with SMART v2 system scopes and the wor_role / wor_org claims',
        },
        resource: [...stored, outcomeReports, ...conformanceTypes, ...SUBSCRIPTION_CAPABILITIES],
        interaction: [{ code: 'transaction', documentation: 'A referral: ServiceRequest and what it references (POST /fhir)' }],
      },
    ],
  };
}
