import type { CapabilityStatement, CapabilityStatementRestResource, Resource, StructureDefinition } from 'fhir/r4.js';
import { CONFORMANCE_TYPES } from '../../fhir/conformance.js';
import { PROFILE } from '../../fhir/profiles.js';
import { INCLUDES, SEARCH_PARAMETERS } from '../../fhir/search-parameters.js';
import { SUBSCRIPTION_CAPABILITIES } from '../../subscriptions/capabilities.js';
import { STORED_TYPES } from './resource-types.js';

/** The writes /fhir takes besides the transaction (src/http/fhir/write-routes.ts, src/feedback/communication-routes.ts). */
const WRITES: Record<string, Array<'update' | 'patch' | 'create'>> = {
  Task: ['update', 'patch'],
  ServiceRequest: ['patch'],
  Communication: ['create'],
};

/** What /fhir really supports, generated from the same tables the routes use, so it cannot drift. */
export function capabilityStatement(baseUrl: string, conformance: Resource[]): CapabilityStatement {
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
      ...(INCLUDES[type] ? { searchInclude: Object.keys(INCLUDES[type]).map((param) => `${type}:${param}`) } : {}),
      searchParam: [
        { name: '_lastUpdated', type: 'date' },
        { name: '_count', type: 'number' },
        { name: '_cursor', type: 'string', documentation: 'Where the next page starts: use the next link as given' },
        ...(SEARCH_PARAMETERS[type] ?? []).map((parameter) => ({ name: parameter.name, type: parameter.type })),
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
    rest: [
      {
        mode: 'server',
        security: {
          service: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'SMART-on-FHIR' }] }],
          description: 'Bearer JWT (RS256/RS384/ES256/ES384) with SMART v2 system scopes and the wor_role / wor_org claims',
        },
        resource: [...stored, outcomeReports, ...conformanceTypes, ...SUBSCRIPTION_CAPABILITIES],
        interaction: [{ code: 'transaction', documentation: 'A referral: ServiceRequest and what it references (POST /fhir)' }],
      },
    ],
  };
}
