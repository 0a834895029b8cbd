import type { Attachment, Bundle, BundleEntry, Composition, Consent, DocumentReference, Organization, Patient, Practitioner, PractitionerRole, Reference, ServiceRequest } from 'fhir/r4.js';
import { own } from '../../own-property.js';
import type { Referral } from '../referral.js';
import { bundleLocator, invalid, readConsent, referralFromSources, resolveInBundle, type PartIndexes } from '../fhir/bundle-reader.js';

/**
 * Documents a referral portal pushes (contract §5.2), modelled on ZorgDomein: FHIR document Bundles,
 * STU3 or R4, whose first entry is a Composition carrying the portal's transaction number (the
 * ZD-number) as identifier. Composition.type names the kind of document.
 */
export const DOCUMENT_KINDS = {
  verwijzing: 'referral',
  verwijsbrief: 'letter',
  aanvulling: 'supplement',
  annulering: 'cancellation',
} as const;
export type DocumentKind = (typeof DOCUMENT_KINDS)[keyof typeof DOCUMENT_KINDS];

export interface DocumentEnvelope {
  documentId: string;
  zdNumber: string;
  kind: DocumentKind;
  fhirVersion: 'STU3' | 'R4';
}

/** Letters and supplements larger than this are refused: the team reads them, they are not archives. */
export const MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024;

const composition = (bundle: Bundle) => bundle.entry?.[0]?.resource as Composition | undefined;

/** The envelope of a pushed document; anything that is not a portal document is refused at once. */
export function readEnvelope(input: unknown): DocumentEnvelope {
  const bundle = input as Bundle;
  if (bundle?.resourceType !== 'Bundle') throw invalid('Bundle.resourceType', 'The body must be a FHIR Bundle');
  if (bundle.type !== 'document') throw invalid('Bundle.type', 'The Bundle must be a document');
  const first = composition(bundle);
  if (first?.resourceType !== 'Composition') throw invalid('Bundle.entry[0].resource', 'The first entry of a document must be a Composition');
  const documentId = bundle.identifier?.value ?? bundle.id;
  if (!documentId) throw invalid('Bundle.identifier', 'The document needs an identifier (or id)');
  const zdNumber = (first.identifier as { value?: string } | undefined)?.value;
  if (!zdNumber || !/^[A-Za-z0-9._:-]{1,64}$/.test(zdNumber)) throw invalid('Bundle.entry[0].resource.identifier', 'The Composition needs the transaction number as identifier');
  const code = first.type?.coding?.map((coding) => coding.code).find((candidate) => candidate && own(DOCUMENT_KINDS, candidate));
  if (!code) throw invalid('Bundle.entry[0].resource.type', `Composition.type must be one of ${Object.keys(DOCUMENT_KINDS).join(', ')}`);
  return { documentId: String(documentId), zdNumber, kind: DOCUMENT_KINDS[code as keyof typeof DOCUMENT_KINDS], fhirVersion: fhirVersionOf(bundle) };
}

/** A document holding an STU3 ReferralRequest is STU3; any other is read as R4. */
export function fhirVersionOf(document: unknown): DocumentEnvelope['fhirVersion'] {
  return ((document as Bundle)?.entry ?? []).some((entry) => (entry.resource?.resourceType as string) === 'ReferralRequest') ? 'STU3' : 'R4';
}

/** An R4 ServiceRequest or an STU3 ReferralRequest, as far as a referral is read from it. */
interface RequestLike {
  authoredOn?: string;
  priority?: string;
  reasonCode?: ServiceRequest['reasonCode'];
  description?: string;
  note?: Array<{ text?: string }>;
  subject?: Reference;
  /** R4: a Reference to the PractitionerRole; STU3: the agent and on whose behalf. */
  requester?: Reference & { agent?: Reference; onBehalfOf?: Reference };
}

/** The referral an appointment-request document carries, in either FHIR version, and where each field was. Pure. */
export function documentToReferral(input: unknown, envelope: DocumentEnvelope): { referral: Referral; locate: (referralPath: string) => string } {
  const entries: BundleEntry[] = (input as Bundle).entry ?? [];
  const requestIndex = entries.findIndex((entry) => ['ServiceRequest', 'ReferralRequest'].includes(entry.resource?.resourceType as string));
  if (requestIndex < 0) throw invalid('Bundle.entry', 'The document holds no ServiceRequest (R4) or ReferralRequest (STU3)', 422);
  const request = entries[requestIndex]!.resource as unknown as RequestLike;
  const at = (element: string) => `Bundle.entry[${requestIndex}].resource.${element}`;
  const [patient, patientIndex] = resolveInBundle<Patient>(entries, request.subject, 'Patient', at('subject'));

  let practitioner: Practitioner;
  let practitionerIndex: number;
  let role: PractitionerRole | undefined;
  let roleIndex: number | undefined;
  let practice: Organization;
  let practiceIndex: number;
  if (envelope.fhirVersion === 'STU3') {
    const agent = request.requester?.agent;
    if (agent?.reference?.includes('PractitionerRole') || entries.find((entry) => entry.fullUrl === agent?.reference)?.resource?.resourceType === 'PractitionerRole') {
      [role, roleIndex] = resolveInBundle<PractitionerRole>(entries, agent, 'PractitionerRole', at('requester.agent'));
      [practitioner, practitionerIndex] = resolveInBundle<Practitioner>(entries, role.practitioner, 'Practitioner', `Bundle.entry[${roleIndex}].resource.practitioner`);
    } else {
      [practitioner, practitionerIndex] = resolveInBundle<Practitioner>(entries, agent, 'Practitioner', at('requester.agent'));
    }
    [practice, practiceIndex] = resolveInBundle<Organization>(entries, request.requester?.onBehalfOf, 'Organization', at('requester.onBehalfOf'));
  } else {
    [role, roleIndex] = resolveInBundle<PractitionerRole>(entries, request.requester, 'PractitionerRole', at('requester'));
    [practitioner, practitionerIndex] = resolveInBundle<Practitioner>(entries, role.practitioner, 'Practitioner', `Bundle.entry[${roleIndex}].resource.practitioner`);
    [practice, practiceIndex] = resolveInBundle<Organization>(entries, role.organization, 'Organization', `Bundle.entry[${roleIndex}].resource.organization`);
  }

  const consentIndex = entries.findIndex((entry) => entry.resource?.resourceType === 'Consent');
  if (consentIndex < 0) throw invalid('Bundle.entry', 'The document holds no Consent to share with the social domain', 422);
  const consent = readConsent(entries[consentIndex]!.resource as Consent, envelope.fhirVersion);
  const parts: PartIndexes = { serviceRequest: requestIndex, patient: patientIndex, practitioner: practitionerIndex, practitionerRole: roleIndex, practice: practiceIndex, consent: consentIndex };
  const referral = referralFromSources(
    {
      referralId: envelope.zdNumber,
      authoredOn: request.authoredOn,
      priority: request.priority,
      reasonCode: request.reasonCode,
      note: request.note?.[0]?.text ?? request.description,
      patient,
      practitioner,
      role,
      practice,
      consent,
    },
    parts,
  );
  return { referral, locate: bundleLocator(parts, consent) };
}

/** The PDFs (or other documents) a letter or supplement carries: inline, or in a Binary it references. */
export function documentAttachments(input: unknown): Array<Attachment & { data: string; contentType: string; size: number }> {
  const entries: BundleEntry[] = (input as Bundle).entry ?? [];
  const attachments = entries.flatMap((entry, index) => {
    if (entry.resource?.resourceType !== 'DocumentReference') return [];
    return ((entry.resource as DocumentReference).content ?? []).map((content, contentIndex) => {
      const path = `Bundle.entry[${index}].resource.content[${contentIndex}].attachment`;
      let { data } = content.attachment;
      const { contentType, url, title } = content.attachment;
      if (!data && url) {
        const binary = entries.find((candidate) => candidate.fullUrl === url || `Binary/${candidate.resource?.id}` === url)?.resource as { data?: string; content?: string } | undefined;
        data = binary?.data ?? binary?.content;
      }
      if (!data || !contentType) throw invalid(path, 'An attachment needs contentType and data (inline or in a Binary of this document)');
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(data)) throw invalid(`${path}.data`, 'Attachment data must be base64');
      const size = Buffer.byteLength(data, 'base64');
      if (size > MAX_ATTACHMENT_BYTES) throw invalid(path, `The attachment is larger than ${MAX_ATTACHMENT_BYTES / 1024 / 1024} MB`, 422);
      return { contentType, data, size, ...(title ? { title } : {}) };
    });
  });
  if (attachments.length === 0) throw invalid('Bundle.entry', 'The document holds no DocumentReference with an attachment', 422);
  return attachments;
}
