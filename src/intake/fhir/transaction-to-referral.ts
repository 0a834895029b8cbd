import type { Bundle, BundleEntry, Consent, Organization, Patient, Practitioner, PractitionerRole, ServiceRequest } from 'fhir/r4.js';
import { FhirError, type Issue } from '../../fhir/operation-outcome.js';
import { CANONICAL_BASE, NAMING_SYSTEM, PROFILE } from '../../fhir/profiles.js';
import { profileErrors } from '../../fhir/profile-validator.js';
import type { Referral } from '../referral.js';
import { bundleLocator, invalid, readConsent, referralFromSources, resolveInBundle, type PartIndexes } from './bundle-reader.js';
const MAX_ISSUES = 20;

/** A FHIR transaction read as a referral, with where each part came from (for the response). */
export interface TransactionReferral {
  referral: Referral;
  identifierSystem: string;
  /** Index in Bundle.entry of each resource the referral was read from. */
  entries: PartIndexes & { practitionerRole: number };
  /** Where a field of the referral was in the Bundle. */
  locate: (referralPath: string) => string;
}

/**
 * Reads a FHIR transaction (contract §5.3) as a referral: every resource is checked against base
 * R4 and its profile, references are resolved inside the Bundle, and the result is the same
 * Referral the HIS REST intake reads, so both channels write the same FHIR. Pure, no I/O.
 */
export function transactionToReferral(input: unknown): TransactionReferral {
  const bundle = input as Bundle;
  if (bundle?.resourceType !== 'Bundle') throw invalid('Bundle.resourceType', 'The body must be a FHIR Bundle');
  if (bundle.type !== 'transaction') throw invalid('Bundle.type', 'The Bundle must be of type transaction');
  const entries = bundle.entry ?? [];
  const requests = entries.map((entry, index) => [entry, index] as const).filter(([entry]) => entry.resource?.resourceType === 'ServiceRequest');
  if (requests.length !== 1) throw invalid('Bundle.entry', 'The transaction must hold exactly one ServiceRequest');
  const [[requestEntry, requestIndex]] = requests as [[BundleEntry, number]];
  const serviceRequest = requestEntry.resource as ServiceRequest;
  const at = (index: number, element: string) => `Bundle.entry[${index}].resource.${element}`;

  entries.forEach((entry, index) => {
    if (!entry.resource) throw invalid(`Bundle.entry[${index}].resource`, 'Every entry needs a resource');
    if (entry.request?.method !== 'POST') throw invalid(`Bundle.entry[${index}].request.method`, 'Only POST (create) entries are accepted');
    if (entry.request.url !== entry.resource.resourceType) throw invalid(`Bundle.entry[${index}].request.url`, 'request.url must be the type of the entry’s resource');
  });

  const [patient, patientIndex] = resolveInBundle<Patient>(entries, serviceRequest.subject, 'Patient', at(requestIndex, 'subject'));
  const [role, roleIndex] = resolveInBundle<PractitionerRole>(entries, serviceRequest.requester, 'PractitionerRole', at(requestIndex, 'requester'));
  const [practitioner, practitionerIndex] = resolveInBundle<Practitioner>(entries, role.practitioner, 'Practitioner', at(roleIndex, 'practitioner'));
  const [practice, practiceIndex] = resolveInBundle<Organization>(entries, role.organization, 'Organization', at(roleIndex, 'organization'));
  const consentIndex = entries.findIndex((entry) => entry.resource?.resourceType === 'Consent');
  if (consentIndex < 0) throw invalid('Bundle.entry', 'The transaction must hold the patient’s Consent to share with the social domain', 422);
  const consent = entries[consentIndex]!.resource as Consent;
  const found = { serviceRequest: requestIndex, patient: patientIndex, practitioner: practitionerIndex, practitionerRole: roleIndex, practice: practiceIndex, consent: consentIndex };
  refuseWhatIsNotTaken(entries, found);

  // Each resource against base R4 and the profile for its part, before anything is read from it
  // (the ServiceRequest against base R4: its shape is ours to give).
  const profileOf: Array<[number, string | undefined]> = [
    [patientIndex, PROFILE.Patient],
    [practitionerIndex, PROFILE.Practitioner],
    [roleIndex, PROFILE.PractitionerRole],
    [practiceIndex, PROFILE.PracticeOrganization],
    [requestIndex, undefined],
  ];
  const issues: Issue[] = profileOf.flatMap(([index, profile]) =>
    profileErrors(entries[index]!.resource!, profile).map((issue) => ({
      code: 'invalid' as const,
      expression: `Bundle.entry[${index}].resource${(issue.expression?.[0] ?? '').replace(/^[A-Za-z]+/, '')}`,
      diagnostics: issue.details?.text ?? issue.diagnostics ?? 'does not conform to its profile',
    })),
  );
  // Hostile input can give an issue per character: the first ones are reported.
  if (issues.length > 0) throw new FhirError(400, issues.slice(0, MAX_ISSUES));

  const identifier = serviceRequest.identifier?.[0];
  if (!identifier?.system || !identifier.value) throw invalid(at(requestIndex, 'identifier'), 'The ServiceRequest needs an identifier with system and value');
  const ifNoneExist = requestEntry.request?.ifNoneExist;
  if (ifNoneExist && ifNoneExist !== `identifier=${identifier.system}|${identifier.value}`) {
    throw invalid(`Bundle.entry[${requestIndex}].request.ifNoneExist`, 'ifNoneExist must be identifier=<system>|<value> of this ServiceRequest');
  }
  const consentSource = readConsent(consent);
  const referral = referralFromSources(
    {
      referralId: identifier.value,
      authoredOn: serviceRequest.authoredOn,
      priority: serviceRequest.priority,
      reasonCode: serviceRequest.reasonCode,
      note: serviceRequest.note?.[0]?.text,
      patient,
      practitioner,
      role,
      practice,
      consent: consentSource,
    },
    found,
  );
  return { referral, identifierSystem: identifier.system, entries: found, locate: bundleLocator(found, consentSource) };
}

/**
 * A transaction says what it did: an entry the referral is not read from would be neither stored
 * nor answered truthfully, so it is refused, and so is a conditional create the service cannot
 * honour (only the ServiceRequest's, on its identifier, is).
 */
function refuseWhatIsNotTaken(entries: BundleEntry[], taken: Record<string, number>): void {
  const parts = new Set(Object.values(taken));
  entries.forEach((entry, index) => {
    if (!parts.has(index)) {
      throw invalid(
        `Bundle.entry[${index}]`,
        `The service does not take this ${entry.resource!.resourceType} entry: a referral transaction holds one ServiceRequest with the Patient, PractitionerRole, Practitioner and Organization it references and one Consent; nothing was stored`,
        422,
      );
    }
    if (entry.request?.ifNoneExist !== undefined && index !== taken.serviceRequest) {
      throw invalid(`Bundle.entry[${index}].request.ifNoneExist`, 'ifNoneExist is honoured on the ServiceRequest only (identifier=<system>|<value>); nothing was stored', 422);
    }
  });
}

/**
 * Identifier systems under the service's own NamingSystem base are minted by a channel (a portal's
 * transaction numbers, teams, Communications, the practice referral ids of the HIS REST channel):
 * a transaction may use only its own practice's. A claimed one is refused before anything is stored;
 * otherwise another channel would treat the referral as its own (retention, idempotency).
 */
export function refuseForeignIdentifierSystems(bundle: Bundle, agb: string): void {
  const own = NAMING_SYSTEM.practiceReferral(agb);
  (bundle.entry ?? []).forEach((entry, i) => {
    const identifiers = (entry.resource as { identifier?: unknown } | undefined)?.identifier;
    if (!Array.isArray(identifiers)) return;
    identifiers.forEach((identifier: { system?: unknown }, j) => {
      const system = identifier?.system;
      if (typeof system === 'string' && system.startsWith(`${CANONICAL_BASE}/NamingSystem/`) && system !== own) {
        throw invalid(`Bundle.entry[${i}].resource.identifier[${j}].system`, 'This identifier system is minted by another channel of the service and cannot be used here', 422);
      }
    });
  });
}
