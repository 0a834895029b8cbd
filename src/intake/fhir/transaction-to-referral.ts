import type {
  Address,
  Bundle,
  BundleEntry,
  Consent,
  Extension,
  HumanName,
  Organization,
  Patient,
  Practitioner,
  PractitionerRole,
  Reference,
  Resource,
  ServiceRequest,
} from 'fhir/r4.js';
import { AGB_SYSTEM, BSN_SYSTEM, ICPC_OID, ICPC_SYSTEM } from '../../identifiers/dutch-identifiers.js';
import { FhirError, type Issue } from '../../fhir/operation-outcome.js';
import { PROFILE } from '../../fhir/profiles.js';
import { profileErrors } from '../../fhir/profile-validator.js';
import { parseOrThrow } from '../../fhir/validation.js';
import { referralSchema, type Referral } from '../referral.js';

/** A FHIR transaction read as a referral, with where each part came from (for the response). */
export interface TransactionReferral {
  referral: Referral;
  identifierSystem: string;
  /** Index in Bundle.entry of each resource the referral was read from. */
  entries: Record<'serviceRequest' | 'patient' | 'practitioner' | 'practitionerRole' | 'practice' | 'consent', number>;
}

const HL7 = 'http://hl7.org/fhir/StructureDefinition';
const extension = (extensions: Extension[] | undefined, name: string) => extensions?.find((item) => item.url === `${HL7}/${name}`)?.valueString;
const invalid = (expression: string, diagnostics: string, status = 400) => new FhirError(status, { code: status === 422 ? 'business-rule' : 'invalid', expression, diagnostics });

/** Resolves a reference inside the transaction: by fullUrl (urn:uuid:...) or by Type/id. */
function resolve<T extends Resource>(entries: BundleEntry[], reference: Reference | undefined, type: string, from: string): [T, number] {
  const target = reference?.reference;
  const index = entries.findIndex(
    (entry) => entry.resource?.resourceType === type && (entry.fullUrl === target || `${type}/${entry.resource.id}` === target),
  );
  if (!target || index < 0) throw invalid(from, `${from} must reference a ${type} in this transaction`);
  return [entries[index]!.resource as T, index];
}

/** Dutch names: the family name as the own-prefix/own-name extensions tell it, or as written. */
function nameOf(name: HumanName | undefined): Referral['patient']['name'] {
  const ownName = extension((name as { _family?: { extension?: Extension[] } })?._family?.extension, 'humanname-own-name');
  const ownPrefix = extension((name as { _family?: { extension?: Extension[] } })?._family?.extension, 'humanname-own-prefix');
  return {
    ...(name?.given?.length ? { given: name.given } : {}),
    ...(ownName && ownPrefix ? { prefix: ownPrefix } : {}),
    family: ownName ?? name?.family ?? '',
  };
}

function addressOf(address: Address | undefined): Record<string, string | undefined> {
  const parts = (address as { _line?: Array<{ extension?: Extension[] }> })?._line?.[0]?.extension;
  return {
    street: extension(parts, 'iso21090-ADXP-streetName') ?? (parts ? undefined : address?.line?.[0]),
    houseNumber: extension(parts, 'iso21090-ADXP-houseNumber'),
    houseNumberAddition: extension(parts, 'iso21090-ADXP-buildingNumberSuffix'),
    postalCode: address?.postalCode,
    city: address?.city,
  };
}

const withoutUndefined = <T extends object>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

/** Where a field of the referral lives in the transaction, to point errors at the FHIR element. */
function fhirPath(referralPath: string, at: TransactionReferral['entries']): string {
  const entry = (name: keyof TransactionReferral['entries'], element: string) => `Bundle.entry[${at[name]}].resource.${element}`;
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
    [/^consent/, entry('consent', '')],
  ];
  return (table.find(([pattern]) => pattern.test(referralPath))?.[1] ?? 'Bundle').replace(/\.$/, '');
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
  });

  const [patient, patientIndex] = resolve<Patient>(entries, serviceRequest.subject, 'Patient', at(requestIndex, 'subject'));
  const [role, roleIndex] = resolve<PractitionerRole>(entries, serviceRequest.requester, 'PractitionerRole', at(requestIndex, 'requester'));
  const [practitioner, practitionerIndex] = resolve<Practitioner>(entries, role.practitioner, 'Practitioner', at(roleIndex, 'practitioner'));
  const [practice, practiceIndex] = resolve<Organization>(entries, role.organization, 'Organization', at(roleIndex, 'organization'));
  const consentIndex = entries.findIndex((entry) => entry.resource?.resourceType === 'Consent');
  if (consentIndex < 0) throw invalid('Bundle.entry', 'The transaction must hold the patient’s Consent to share with the social domain', 422);
  const consent = entries[consentIndex]!.resource as Consent;
  const found = { serviceRequest: requestIndex, patient: patientIndex, practitioner: practitionerIndex, practitionerRole: roleIndex, practice: practiceIndex, consent: consentIndex };

  // Each resource against base R4 and the profile for its part, before anything is read from it.
  const profileOf: Array<[number, string]> = [
    [patientIndex, PROFILE.Patient],
    [practitionerIndex, PROFILE.Practitioner],
    [roleIndex, PROFILE.PractitionerRole],
    [practiceIndex, PROFILE.PracticeOrganization],
  ];
  const issues: Issue[] = profileOf.flatMap(([index, profile]) =>
    profileErrors(entries[index]!.resource!, profile).map((issue) => ({
      code: 'invalid' as const,
      expression: `Bundle.entry[${index}].resource${(issue.expression?.[0] ?? '').replace(/^[A-Za-z]+/, '')}`,
      diagnostics: issue.details?.text ?? issue.diagnostics ?? 'does not conform to its profile',
    })),
  );
  issues.push(
    ...profileErrors(serviceRequest).map((issue) => ({
      code: 'invalid' as const,
      expression: `Bundle.entry[${requestIndex}].resource${(issue.expression?.[0] ?? '').replace(/^[A-Za-z]+/, '')}`,
      diagnostics: issue.details?.text ?? issue.diagnostics ?? 'is not valid R4',
    })),
  );
  if (issues.length > 0) throw new FhirError(400, issues);

  const identifier = serviceRequest.identifier?.[0];
  if (!identifier?.system || !identifier.value) throw invalid(at(requestIndex, 'identifier'), 'The ServiceRequest needs an identifier with system and value');
  const ifNoneExist = requestEntry.request?.ifNoneExist;
  if (ifNoneExist && ifNoneExist !== `identifier=${identifier.system}|${identifier.value}`) {
    throw invalid(`Bundle.entry[${requestIndex}].request.ifNoneExist`, 'ifNoneExist must be identifier=<system>|<value> of this ServiceRequest');
  }
  const granted = consent.status === 'active' && consent.provision?.type === 'permit';
  const official = patient.name?.find((name) => name.use === 'official') ?? patient.name?.[0];
  const codings = (serviceRequest.reasonCode ?? []).flatMap((concept) => concept.coding ?? []);
  const referral = readReferral(
    found,
    withoutUndefined({
      referralId: identifier.value,
      authoredOn: serviceRequest.authoredOn,
      reason: {
        icpc: codings
          .filter((coding) => coding.system === ICPC_SYSTEM || coding.system === ICPC_OID)
          .map((coding) => ({ code: coding.code, display: coding.display, system: coding.system })),
        text: (serviceRequest.reasonCode ?? []).filter((concept) => !concept.coding?.length).map((concept) => concept.text).join(' ') || undefined,
      },
      urgency: serviceRequest.priority,
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
        name: practitioner.name?.[0]?.text,
        practice: { agb: practice.identifier?.find((item) => item.system === AGB_SYSTEM)?.value, name: practice.name },
      },
      consent: { shareWithSocialDomain: granted, recordedOn: consent.dateTime?.slice(0, 10) },
      note: serviceRequest.note?.[0]?.text,
    }),
  );
  return { referral, identifierSystem: identifier.system, entries: found };
}

/** The referral schema's checks (BSN 11-test, AGB, postcode...), with issues pointing into the Bundle. */
function readReferral(entries: TransactionReferral['entries'], draft: unknown): Referral {
  try {
    return parseOrThrow(referralSchema, draft);
  } catch (error) {
    if (!(error instanceof FhirError)) throw error;
    throw new FhirError(
      error.statusCode,
      error.issues.map((issue) => ({ ...issue, expression: issue.expression ? fhirPath(issue.expression, entries) : issue.expression })),
    );
  }
}
