import type {
  CodeableConcept,
  Consent,
  Identifier,
  Organization,
  Patient,
  Practitioner,
  PractitionerRole,
  ServiceRequest,
  Task,
} from 'fhir/r4.js';
import type { Team } from '../directory/directory.js';
import { AGB_SYSTEM, BIG_SYSTEM, BSN_SYSTEM, ICPC_SYSTEM, URA_SYSTEM, UZI_ROLE_SYSTEM, UZI_SYSTEM } from '../identifiers/dutch-identifiers.js';
import { nlCoreAddress, nlCoreNames } from '../fhir/nl-core.js';
import type { Referral } from './referral.js';
import { CODE_SYSTEM, CONTACT_DEADLINE_EXTENSION, PROFILE } from '../fhir/profiles.js';
import { teamOrganizationId, teamReference } from '../directory/team-organization.js';

export interface ReferralIds {
  patient: string;
  practitioner: string;
  practitionerRole: string;
  practice: string;
  consent: string;
  serviceRequest: string;
  task: string;
}

export interface ReferralContext {
  ids: ReferralIds;
  team: Team;
  /** The identifier system of the referrer's own referral id. */
  identifierSystem: string;
  receivedAt: Date;
  pickupDeadline: string;
  contactDeadline: string;
}

export interface ReferralResources {
  patient: Patient;
  practitioner: Practitioner;
  practitionerRole: PractitionerRole;
  practice: Organization;
  consent: Consent;
  serviceRequest: ServiceRequest;
  task: Task;
}

const reference = (type: string, id: string) => ({ reference: `${type}/${id}` });
const identifiers = (...pairs: Array<[string, string | undefined]>): Identifier[] =>
  pairs.flatMap(([system, value]) => (value ? [{ system, value }] : []));

/**
 * A referral as FHIR: pure, no I/O. The same function serves every intake channel, so a portal
 * document and a HIS REST call with the same content give the same resources.
 */
export function referralToFhir(referral: Referral, context: ReferralContext): ReferralResources {
  const { ids, team, receivedAt } = context;
  const { patient: person, requester } = referral;
  const received = receivedAt.toISOString();

  const patient: Patient = {
    resourceType: 'Patient',
    id: ids.patient,
    meta: { profile: [PROFILE.Patient] },
    identifier: [{ system: BSN_SYSTEM, value: person.bsn }],
    name: nlCoreNames(person.name),
    ...(person.phone || person.email
      ? {
          telecom: [
            ...(person.phone ? [{ system: 'phone' as const, value: person.phone, use: 'mobile' as const }] : []),
            ...(person.email ? [{ system: 'email' as const, value: person.email }] : []),
          ],
        }
      : {}),
    ...(person.gender ? { gender: person.gender } : {}),
    birthDate: person.birthDate,
    address: [nlCoreAddress(person.address)],
  };

  const practitioner: Practitioner = {
    resourceType: 'Practitioner',
    id: ids.practitioner,
    meta: { profile: [PROFILE.Practitioner] },
    identifier: identifiers([AGB_SYSTEM, requester.agb], [BIG_SYSTEM, requester.big], [UZI_SYSTEM, requester.uzi]),
    ...(requester.name ? { name: [{ text: requester.name }] } : {}),
  };

  const practice: Organization = {
    resourceType: 'Organization',
    id: ids.practice,
    meta: { profile: [PROFILE.PracticeOrganization] },
    identifier: identifiers([AGB_SYSTEM, requester.practice.agb], [URA_SYSTEM, requester.practice.ura]),
    name: requester.practice.name ?? `Huisartsenpraktijk ${requester.practice.agb}`,
  };

  const practitionerRole: PractitionerRole = {
    resourceType: 'PractitionerRole',
    id: ids.practitionerRole,
    meta: { profile: [PROFILE.PractitionerRole] },
    practitioner: { ...reference('Practitioner', ids.practitioner), ...(requester.name ? { display: requester.name } : {}) },
    organization: { ...reference('Organization', ids.practice), display: practice.name },
    // nl-core-HealthProfessional-PractitionerRole carries the UZI role in specialty; others send it in code.
    [requester.role.element]: [{ coding: [{ system: UZI_ROLE_SYSTEM, code: requester.role.code, ...(requester.role.display ? { display: requester.role.display } : {}) }] }],
  };

  const consent: Consent = {
    resourceType: 'Consent',
    id: ids.consent,
    meta: { profile: [PROFILE.Consent] },
    status: 'active',
    scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
    category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0', display: 'Patient Consent' }] }],
    patient: reference('Patient', ids.patient),
    dateTime: referral.consent.recordedOn ?? referral.authoredOn,
    organization: [reference('Organization', ids.practice)],
    policyRule: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'OPTIN' }] },
    provision: {
      // What was sent: submitReferral refuses a referral whose consent does not permit sharing.
      type: referral.consent.shareWithSocialDomain ? 'permit' : 'deny',
      period: { start: referral.consent.recordedOn ?? referral.authoredOn },
      actor: [
        {
          role: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'IRCP' }] },
          reference: reference('Organization', teamOrganizationId(team.id)),
        },
      ],
      purpose: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: 'TREAT' }],
    },
  };

  const reasons: CodeableConcept[] = [
    ...referral.reason.icpc.map(({ code, display }) => ({ coding: [{ system: ICPC_SYSTEM, code, ...(display ? { display } : {}) }] })),
    ...(referral.reason.text ? [{ text: referral.reason.text }] : []),
  ];

  const serviceRequest: ServiceRequest = {
    resourceType: 'ServiceRequest',
    id: ids.serviceRequest,
    meta: { profile: [PROFILE.ServiceRequest] },
    identifier: [{ system: context.identifierSystem, value: referral.referralId }],
    status: 'active',
    intent: 'order',
    code: { coding: [{ system: CODE_SYSTEM.service, code: 'welzijn-op-recept', display: 'Welzijn op Recept' }] },
    priority: referral.urgency,
    subject: reference('Patient', ids.patient),
    authoredOn: referral.authoredOn,
    requester: reference('PractitionerRole', ids.practitionerRole),
    performer: [teamReference(team)],
    reasonCode: reasons,
    supportingInfo: [reference('Consent', ids.consent)],
    ...(referral.note ? { note: [{ text: referral.note }] } : {}),
  };

  const task: Task = {
    resourceType: 'Task',
    id: ids.task,
    meta: { profile: [PROFILE.Task] },
    extension: [{ url: CONTACT_DEADLINE_EXTENSION, valueDateTime: context.contactDeadline }],
    basedOn: [reference('ServiceRequest', ids.serviceRequest)],
    status: 'requested',
    intent: 'order',
    priority: referral.urgency,
    code: { coding: [{ system: 'http://hl7.org/fhir/CodeSystem/task-code', code: 'fulfill' }] },
    focus: reference('ServiceRequest', ids.serviceRequest),
    for: reference('Patient', ids.patient),
    authoredOn: received,
    lastModified: received,
    requester: reference('PractitionerRole', ids.practitionerRole),
    owner: teamReference(team),
    restriction: { period: { end: context.pickupDeadline } },
  };

  return { patient, practitioner, practitionerRole, practice, consent, serviceRequest, task };
}
