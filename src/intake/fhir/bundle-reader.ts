import type { BundleEntry, CodeableConcept, Consent, Identifier, Organization, Patient, Practitioner, PractitionerRole, Reference, Resource } from 'fhir/r4.js';
import { AGB_SYSTEM, BIG_SYSTEM, BSN_SYSTEM, ICPC_OID, ICPC_SYSTEM, URA_SYSTEM, UZI_ROLE_OID, UZI_ROLE_SYSTEM, UZI_SYSTEM } from '../../identifiers/dutch-identifiers.js';
import { dutchAddressOf, dutchNameOf } from '../../fhir/nl-core.js';
import { FhirError } from '../../fhir/operation-outcome.js';
import { parseOrThrow } from '../../fhir/validation.js';
import { referralSchema, type Referral } from '../referral.js';

/**
 * Reading a referral out of a FHIR Bundle (a transaction from a HIS, an R4 or STU3 document from a
 * portal): resolving references inside it, the Dutch name and address conventions, and the
 * referral schema's checks with issues pointing at the Bundle's elements. Pure, no I/O.
 */
export type ReferralPart = 'serviceRequest' | 'patient' | 'practitioner' | 'practice' | 'consent';
/** Index in Bundle.entry of the resource each part was read from (the PractitionerRole when there is one). */
export type PartIndexes = Record<ReferralPart, number> & { practitionerRole?: number };

/** What a referral is read from, whatever FHIR version or Bundle type carried it. */
export interface ReferralSources {
  referralId: string | undefined;
  authoredOn: string | undefined;
  priority: string | undefined;
  reasonCode: CodeableConcept[] | undefined;
  note: string | undefined;
  patient: Patient;
  practitioner: Practitioner;
  /** The PractitionerRole, when the Bundle has one (an STU3 requester may be the Practitioner itself). */
  role?: PractitionerRole;
  practice: Organization;
  consent: ConsentSource;
}

/** A Consent as a referral reads it, and the element that decides whether it permits sharing. */
export interface ConsentSource {
  granted: boolean;
  recordedOn: string | undefined;
  decidedBy: 'status' | 'provision.type';
}

/** Granted when active and, in R4, permitting (an STU3 Consent has no provision: active is the permission). */
export function readConsent(consent: Consent, fhirVersion: 'R4' | 'STU3' = 'R4'): ConsentSource {
  const active = consent.status === 'active';
  const permits = fhirVersion === 'STU3' || consent.provision?.type === 'permit';
  return { granted: active && permits, recordedOn: consent.dateTime, decidedBy: active && fhirVersion === 'R4' ? 'provision.type' : 'status' };
}

export const invalid = (expression: string, diagnostics: string, status = 400) =>
  new FhirError(status, { code: status === 422 ? 'business-rule' : 'invalid', expression, diagnostics });

/** Resolves a reference inside the Bundle: by fullUrl (urn:uuid:...) or by Type/id. */
export function resolveInBundle<T extends Resource>(entries: BundleEntry[], reference: Reference | undefined, type: string, from: string): [T, number] {
  const target = reference?.reference;
  const index = entries.findIndex(
    (entry) => entry.resource?.resourceType === type && (entry.fullUrl === target || `${type}/${entry.resource.id}` === target),
  );
  if (!target || index < 0) throw invalid(from, `${from} must reference a ${type} in this Bundle`);
  return [entries[index]!.resource as T, index];
}

/** The UZI role code from PractitionerRole.code or, as nl-core puts it, specialty. */
function roleOf(role: PractitionerRole | undefined): Record<string, string | undefined> | undefined {
  for (const element of ['code', 'specialty'] as const) {
    const coding = role?.[element]?.flatMap((concept) => concept.coding ?? []).find((item) => item.system === UZI_ROLE_SYSTEM || item.system === UZI_ROLE_OID);
    if (coding) return { code: coding.code, display: coding.display, element };
  }
  return undefined;
}

const identifierValue = (identifiers: Identifier[] | undefined, system: string) => identifiers?.find((item) => item.system === system)?.value;

/** Where a field of the referral lives in the Bundle, to point errors at the FHIR element. */
function fhirPath(referralPath: string, at: PartIndexes, consent: ConsentSource): string {
  const entry = (part: ReferralPart | 'practitionerRole', element: string) => `Bundle.entry[${at[part]}].resource${element ? `.${element}` : ''}`;
  const table: Array<[RegExp, string]> = [
    [/^patient\.bsn/, entry('patient', 'identifier')],
    [/^patient\.name/, entry('patient', 'name')],
    [/^patient\.birthDate/, entry('patient', 'birthDate')],
    [/^patient\.address/, entry('patient', 'address')],
    [/^patient\.(phone|email)/, entry('patient', 'telecom')],
    [/^patient/, entry('patient', '')],
    [/^requester\.practice/, entry('practice', 'identifier')],
    [/^requester\.role/, at.practitionerRole === undefined ? 'Bundle' : entry('practitionerRole', '')],
    [/^requester/, entry('practitioner', 'identifier')],
    [/^reason/, entry('serviceRequest', 'reasonCode')],
    [/^referralId/, entry('serviceRequest', 'identifier')],
    [/^authoredOn/, entry('serviceRequest', 'authoredOn')],
    [/^urgency/, entry('serviceRequest', 'priority')],
    [/^note/, entry('serviceRequest', 'note')],
    [/^consent\.shareWithSocialDomain/, entry('consent', consent.decidedBy)],
    [/^consent/, entry('consent', '')],
  ];
  return table.find(([pattern]) => pattern.test(referralPath))?.[1] ?? 'Bundle';
}

const withoutUndefined = <T extends object>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

/** Where a field of the referral was in the Bundle: for checks made after reading (consent, routing, idempotency). */
export const bundleLocator =
  (at: PartIndexes, consent: ConsentSource) =>
  (referralPath: string): string =>
    fhirPath(referralPath, at, consent);

/** The referral the sources describe, checked like a HIS REST referral (BSN 11-test, AGB, postcode...). */
export function referralFromSources(sources: ReferralSources, at: PartIndexes): Referral {
  const { patient, practitioner, practice } = sources;
  const codings = (sources.reasonCode ?? []).flatMap((concept) => concept.coding ?? []);
  const draft = withoutUndefined({
    referralId: sources.referralId,
    authoredOn: sources.authoredOn,
    reason: {
      icpc: codings.filter((coding) => coding.system === ICPC_SYSTEM || coding.system === ICPC_OID).map((coding) => ({ code: coding.code, display: coding.display, system: coding.system })),
      text: [...(sources.reasonCode ?? []).filter((concept) => !concept.coding?.some((coding) => coding.system === ICPC_SYSTEM || coding.system === ICPC_OID)).map((concept) => concept.text ?? concept.coding?.[0]?.display)].filter(Boolean).join(' ') || undefined,
    },
    urgency: sources.priority === 'urgent' || sources.priority === 'asap' || sources.priority === 'stat' ? 'urgent' : sources.priority ? 'routine' : undefined,
    patient: {
      bsn: patient.identifier?.find((item) => item.system === BSN_SYSTEM)?.value,
      name: dutchNameOf(patient.name),
      birthDate: patient.birthDate,
      gender: patient.gender,
      address: dutchAddressOf(patient.address),
      phone: patient.telecom?.find((telecom) => telecom.system === 'phone')?.value,
      email: patient.telecom?.find((telecom) => telecom.system === 'email')?.value,
    },
    requester: {
      agb: identifierValue(practitioner.identifier, AGB_SYSTEM),
      big: identifierValue(practitioner.identifier, BIG_SYSTEM),
      uzi: identifierValue(practitioner.identifier, UZI_SYSTEM),
      name: practitioner.name?.[0]?.text ?? ([...(practitioner.name?.[0]?.given ?? []), practitioner.name?.[0]?.family].filter(Boolean).join(' ') || undefined),
      role: roleOf(sources.role),
      practice: { agb: identifierValue(practice.identifier, AGB_SYSTEM), ura: identifierValue(practice.identifier, URA_SYSTEM), name: practice.name },
    },
    consent: { shareWithSocialDomain: sources.consent.granted, recordedOn: sources.consent.recordedOn?.slice(0, 10) },
    note: sources.note,
  });
  try {
    return parseOrThrow(referralSchema, draft);
  } catch (error) {
    if (!(error instanceof FhirError)) throw error;
    throw new FhirError(
      error.statusCode,
      error.issues.map((issue) => ({ ...issue, expression: issue.expression ? fhirPath(issue.expression, at, sources.consent) : issue.expression })),
    );
  }
}
