import type { Address, BundleEntry, CodeableConcept, Consent, Extension, HumanName, Organization, Patient, Practitioner, Reference, Resource } from 'fhir/r4.js';
import { AGB_SYSTEM, BSN_SYSTEM, ICPC_OID, ICPC_SYSTEM } from '../../identifiers/dutch-identifiers.js';
import { FhirError } from '../../fhir/operation-outcome.js';
import { parseOrThrow } from '../../fhir/validation.js';
import { referralSchema, type Referral } from '../referral.js';

/**
 * Reading a referral out of a FHIR Bundle (a transaction from a HIS, an R4 or STU3 document from a
 * portal): resolving references inside it, the Dutch name and address conventions, and the
 * referral schema's checks with issues pointing at the Bundle's elements. Pure, no I/O.
 */
export type ReferralPart = 'serviceRequest' | 'patient' | 'practitioner' | 'practice' | 'consent';
/** Index in Bundle.entry of the resource each part was read from. */
export type PartIndexes = Record<ReferralPart, number>;

/** What a referral is read from, whatever FHIR version or Bundle type carried it. */
export interface ReferralSources {
  referralId: string | undefined;
  authoredOn: string | undefined;
  priority: string | undefined;
  reasonCode: CodeableConcept[] | undefined;
  note: string | undefined;
  patient: Patient;
  practitioner: Practitioner;
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

const HL7 = 'http://hl7.org/fhir/StructureDefinition';
const extension = (extensions: Extension[] | undefined, name: string) => extensions?.find((item) => item.url === `${HL7}/${name}`)?.valueString;

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

/** Dutch names: the family name as the own-prefix/own-name extensions tell it, or as written. */
function nameOf(name: HumanName | undefined): Referral['patient']['name'] {
  const parts = (name as { _family?: { extension?: Extension[] } } | undefined)?._family?.extension;
  const ownName = extension(parts, 'humanname-own-name');
  const ownPrefix = extension(parts, 'humanname-own-prefix');
  return {
    ...(name?.given?.length ? { given: name.given } : {}),
    ...(ownName && ownPrefix ? { prefix: ownPrefix } : {}),
    family: ownName ?? name?.family ?? '',
  };
}

function addressOf(address: Address | undefined): Record<string, string | undefined> {
  const parts = (address as { _line?: Array<{ extension?: Extension[] }> } | undefined)?._line?.[0]?.extension;
  return {
    street: extension(parts, 'iso21090-ADXP-streetName') ?? (parts ? undefined : address?.line?.[0]),
    houseNumber: extension(parts, 'iso21090-ADXP-houseNumber'),
    houseNumberAddition: extension(parts, 'iso21090-ADXP-buildingNumberSuffix'),
    postalCode: address?.postalCode,
    city: address?.city,
  };
}

/** Where a field of the referral lives in the Bundle, to point errors at the FHIR element. */
function fhirPath(referralPath: string, at: PartIndexes, consent: ConsentSource): string {
  const entry = (part: ReferralPart, element: string) => `Bundle.entry[${at[part]}].resource${element ? `.${element}` : ''}`;
  const table: Array<[RegExp, string]> = [
    [/^patient\.bsn/, entry('patient', 'identifier')],
    [/^patient\.name/, entry('patient', 'name')],
    [/^patient\.birthDate/, entry('patient', 'birthDate')],
    [/^patient\.address/, entry('patient', 'address')],
    [/^patient\.(phone|email)/, entry('patient', 'telecom')],
    [/^patient/, entry('patient', '')],
    [/^requester\.practice/, entry('practice', 'identifier')],
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
  const official = patient.name?.find((name) => name.use === 'official') ?? patient.name?.[0];
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
      name: nameOf(official),
      birthDate: patient.birthDate,
      gender: patient.gender,
      address: addressOf(patient.address?.[0]),
      phone: patient.telecom?.find((telecom) => telecom.system === 'phone')?.value,
      email: patient.telecom?.find((telecom) => telecom.system === 'email')?.value,
    },
    requester: {
      agb: practitioner.identifier?.find((item) => item.system === AGB_SYSTEM)?.value,
      name: practitioner.name?.[0]?.text ?? ([...(practitioner.name?.[0]?.given ?? []), practitioner.name?.[0]?.family].filter(Boolean).join(' ') || undefined),
      practice: { agb: practice.identifier?.find((item) => item.system === AGB_SYSTEM)?.value, name: practice.name },
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
