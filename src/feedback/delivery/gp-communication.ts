import type { Communication, Identifier, Organization, Patient, Practitioner, Reference, ServiceRequest } from 'fhir/r4.js';
import type { Team } from '../../directory/directory.js';
import { teamOrganizationId } from '../../directory/team-organization.js';
import { addressedName } from '../../fhir/nl-core.js';
import { NAMING_SYSTEM } from '../../fhir/profiles.js';
import { AGB_SYSTEM, BSN_SYSTEM, URA_SYSTEM } from '../../identifiers/dutch-identifiers.js';

/** What the GP system knows the referral's parties by, read from the store for one delivery. */
export interface ReferralParties {
  serviceRequest: ServiceRequest;
  patient: Patient;
  practitioner?: Practitioner;
  practice?: Organization;
  team: Team;
  taskId: string;
}

export interface OutboundOptions {
  /**
   * PUBLIC_BASE_URL when the receiver accepts external references: references then also carry the
   * absolute URL of the resource here. Without it, only identifiers the GP system can resolve.
   */
  externalBase?: string;
}

/** Our own identifier of a Communication: what conditional create at the GP matches on. */
export const ownIdentifier = (communication: Communication): Identifier | undefined =>
  communication.identifier?.find((identifier) => identifier.system === NAMING_SYSTEM.communication);

const firstOf = (identifiers: Identifier[] | undefined, ...systems: string[]) =>
  systems.map((system) => identifiers?.find((identifier) => identifier.system === system)).find(Boolean);

const plain = ({ system, value }: Identifier): Identifier => ({ ...(system ? { system } : {}), value });

/**
 * The Communication as a foreign FHIR server can store it: pure, no I/O. A HAPI-like server refuses
 * references to resources it does not hold, and absolute URLs unless configured for them, so every
 * reference is logical (`identifier` the GP system knows: its own referral id, the BSN, AGB or URA,
 * the team identifier) with a `display`, plus the absolute URL here only when the receiver accepts
 * it. What only lives here (the Task) is referred to only then. No id (the receiver assigns one);
 * `meta.profile` is kept.
 */
export function gpCommunication(communication: Communication, parties: ReferralParties, options: OutboundOptions = {}): Communication {
  const { serviceRequest, patient, practitioner, practice, team } = parties;
  const here = (reference: string) => (options.externalBase ? { reference: `${options.externalBase}/fhir/${reference}` } : {});
  const logical = (type: string, identifier: Identifier | undefined, display: string | undefined, local: string): Reference[] =>
    identifier || options.externalBase ? [{ ...here(local), type, ...(identifier ? { identifier: plain(identifier) } : {}), ...(display ? { display } : {}) }] : [];
  const referral = serviceRequest.identifier?.[0];
  const practitionerId = firstOf(practitioner?.identifier, AGB_SYSTEM, URA_SYSTEM) ?? practitioner?.identifier?.[0];
  const practiceId = firstOf(practice?.identifier, AGB_SYSTEM, URA_SYSTEM);
  // Only the parties the referral still has: never a reference to an id that is not there.
  const recipient = [
    ...(practitioner ? logical('Practitioner', practitionerId, practitioner.name?.[0]?.text, `Practitioner/${practitioner.id}`) : []),
    ...(practice ? logical('Organization', practiceId, practice.name, `Organization/${practice.id}`) : []),
  ];
  const { id: _id, meta, basedOn: _basedOn, subject: _subject, about: _about, recipient: _recipient, sender: _sender, ...content } = communication;
  return {
    ...content,
    resourceType: 'Communication',
    ...(meta?.profile ? { meta: { profile: meta.profile } } : {}),
    basedOn: logical('ServiceRequest', referral, referral ? `Verwijzing ${referral.value}` : undefined, `ServiceRequest/${serviceRequest.id}`),
    subject: logical('Patient', firstOf(patient.identifier, BSN_SYSTEM), addressedName(patient.name), `Patient/${patient.id}`)[0]!,
    ...(options.externalBase ? { about: [{ ...here(`Task/${parties.taskId}`), type: 'Task' }] } : {}),
    recipient,
    sender: logical('Organization', { system: NAMING_SYSTEM.team, value: team.id }, team.name, `Organization/${teamOrganizationId(team.id)}`)[0]!,
  } as Communication;
}
