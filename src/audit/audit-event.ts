import type { AuditEvent, Reference, Resource } from 'fhir/r4.js';
import type { ActingPerson, Caller } from '../auth/caller.js';
import { UZI_SYSTEM } from '../identifiers/dutch-identifiers.js';
import { PROFILE_AUDIT_EVENT } from '../fhir/profiles.js';
import { own } from '../own-property.js';

/** The patients and resources a response disclosed or changed. */
export interface Disclosure {
  patients: string[];
  resources: string[];
}

const PATIENT_FIELD: Record<string, string> = {
  ServiceRequest: 'subject',
  Task: 'for',
  Consent: 'patient',
  Communication: 'subject',
  DocumentReference: 'subject',
};

function resourcesIn(payload: unknown): Resource[] {
  if (!payload || typeof payload !== 'object') return [];
  const value = payload as { resourceType?: string; entry?: Array<{ resource?: Resource }>; bundle?: unknown };
  if (value.resourceType === 'Bundle') return (value.entry ?? []).flatMap((entry) => resourcesIn(entry.resource));
  if (value.resourceType) return [value as Resource];
  return value.bundle ? resourcesIn(value.bundle) : [];
}

/** Which patients' data a response payload carries (walks Bundles and the claim envelope). Pure. */
export function disclosureOf(payload: unknown): Disclosure {
  const patients = new Set<string>();
  const resources = new Set<string>();
  for (const resource of resourcesIn(payload)) {
    if (resource.resourceType === 'Patient') patients.add(`Patient/${resource.id}`);
    const field = own(PATIENT_FIELD, resource.resourceType);
    const reference = field ? ((resource as unknown as Record<string, Reference | undefined>)[field]?.reference) : undefined;
    if (reference) patients.add(reference);
    if (patients.size > 0 || field || resource.resourceType === 'Patient') resources.add(`${resource.resourceType}/${resource.id}`);
  }
  return { patients: [...patients], resources: [...resources] };
}

const ACTION: Record<string, AuditEvent['action']> = { GET: 'R', POST: 'C', PUT: 'U', PATCH: 'U', DELETE: 'D' };

export interface AccessFacts {
  id: string;
  caller: Caller;
  method: string;
  route: string;
  status: number;
  requestId: string;
  recorded: Date;
  disclosure: Disclosure;
}

/** What the audit trail keeps of one access: facts and references, never copies of the data. */
export interface AuditRecord {
  id: string;
  recorded: Date;
  action: NonNullable<AuditEvent['action']>;
  subtype: string;
  outcome: NonNullable<AuditEvent['outcome']>;
  method: string;
  route: string;
  status: number;
  clientId: string;
  /** The person acting through the client, when the token named one. */
  person?: ActingPerson;
  role: string;
  org: string;
  requestId: string;
  patients: string[];
  resources: string[];
}

/** Classifies one access to patient data (NEN 7513: what happened, to whom, by whom). Pure. */
export function auditRecord(facts: AccessFacts): AuditRecord {
  const search = facts.method === 'GET' && !/:id/.test(facts.route);
  const action = search ? 'E' : (own(ACTION, facts.method) ?? 'E');
  return {
    id: facts.id,
    recorded: facts.recorded,
    action,
    subtype: search ? 'search-type' : action === 'R' ? 'read' : action === 'C' ? 'create' : 'update',
    outcome: facts.status < 400 ? '0' : facts.status < 500 ? '4' : '8',
    method: facts.method,
    route: facts.route,
    status: facts.status,
    clientId: facts.caller.clientId,
    ...(facts.caller.person ? { person: facts.caller.person } : {}),
    role: facts.caller.role,
    org: facts.caller.org,
    requestId: facts.requestId,
    patients: facts.disclosure.patients,
    resources: facts.disclosure.resources,
  };
}

/**
 * One access to patient data as an AuditEvent in the spirit of NEN 7513: what happened, when,
 * to which patient, by which user (client) on behalf of which organisation. Pure.
 */
export function auditEvent(record: AuditRecord): AuditEvent {
  const { person } = record;
  return {
    resourceType: 'AuditEvent',
    id: record.id,
    meta: { profile: [PROFILE_AUDIT_EVENT] },
    type: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest', display: 'RESTful Operation' },
    subtype: [{ system: 'http://hl7.org/fhir/restful-interaction', code: record.subtype }],
    action: record.action,
    recorded: record.recorded.toISOString(),
    outcome: record.outcome,
    outcomeDesc: `${record.method} ${record.route} ${record.status}`,
    agent: [
      {
        type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'IRCP' }] },
        who: { identifier: { system: 'https://wor-bridge.nl/fhir/NamingSystem/client', value: record.clientId } },
        requestor: !person,
        role: [{ coding: [{ system: 'https://wor-bridge.nl/fhir/CodeSystem/wor-role', code: record.role }] }],
      },
      {
        who: { identifier: { system: 'https://wor-bridge.nl/fhir/NamingSystem/organisation', value: `${record.role}:${record.org}` } },
        requestor: false,
      },
      ...(person
        ? [
            {
              type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/extra-security-role-type', code: 'humanuser', display: 'human user' }] },
              who: {
                identifier: person.uzi ? { system: UZI_SYSTEM, value: person.uzi } : { system: 'https://wor-bridge.nl/fhir/NamingSystem/user', value: person.id },
                ...(person.name ? { display: person.name } : {}),
              },
              altId: person.id,
              ...(person.name ? { name: person.name } : {}),
              requestor: true,
            },
          ]
        : []),
    ],
    source: { observer: { display: 'wor-bridge' }, site: record.requestId },
    entity: [
      ...record.patients.map((patient) => ({
        what: { reference: patient },
        type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '1', display: 'Person' },
        role: { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '1', display: 'Patient' },
      })),
      ...record.resources.map((resource) => ({
        what: { reference: resource },
        type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '2', display: 'System Object' },
      })),
    ],
  };
}
