import type { CodeableConcept, Communication, Patient, ServiceRequest, Task } from 'fhir/r4.js';
import { teamReference } from '../directory/team-organization.js';
import { addressedName } from '../fhir/nl-core.js';
import { CODE_SYSTEM, CONTACT_DEADLINE_EXTENSION, NAMING_SYSTEM, PROFILE } from '../fhir/profiles.js';
import type { Team } from '../directory/directory.js';

/** The moments the GP hears back (contract §7), with the title of the letter. */
export const FEEDBACK_KINDS = {
  accepted: 'Verwijzing aangenomen',
  rejected: 'Verwijzing niet aangenomen',
  completed: 'Traject afgerond',
  failed: 'Traject niet uitgevoerd',
  'pickup-deadline-missed': 'Verwijzing nog niet opgepakt',
  'contact-deadline-missed': 'Patiënt nog niet gesproken',
} as const;
export type FeedbackKind = keyof typeof FEEDBACK_KINDS;

/** The feedback a Task status leads to. */
export const FEEDBACK_ON_STATUS: Partial<Record<Task['status'], FeedbackKind>> = {
  accepted: 'accepted',
  rejected: 'rejected',
  completed: 'completed',
  failed: 'failed',
};

export interface FeedbackFacts {
  kind: FeedbackKind;
  id: string;
  task: Task;
  serviceRequest: ServiceRequest;
  patient: Patient;
  team: Team;
  sentAt: Date;
}

/** "2026-11-20T10:15:00+01:00" -> "20-11-2026", as a Dutch letter writes dates. */
function dutchDate(value: string | undefined): string {
  const match = /^(\d{4})-(\d{2})-(\d{2})/.exec(value ?? '');
  return match ? `${match[3]}-${match[2]}-${match[1]}` : 'onbekend';
}

function patientLine(patient: Patient): string {
  return `${addressedName(patient.name) ?? 'onbekend'}, geboren ${dutchDate(patient.birthDate)}`;
}

const reasonText = (reason: CodeableConcept | undefined) => reason?.text ?? reason?.coding?.[0]?.display ?? 'geen reden opgegeven';

function body(facts: FeedbackFacts): string {
  const { task, team } = facts;
  const contactDeadline = task.extension?.find((extension) => extension.url === CONTACT_DEADLINE_EXTENSION)?.valueDateTime;
  switch (facts.kind) {
    case 'accepted':
      return `${team.name} heeft uw verwijzing aangenomen. Een welzijnscoach neemt contact op met de patiënt, uiterlijk op ${dutchDate(contactDeadline)}.`;
    case 'rejected':
      return `${team.name} heeft uw verwijzing niet aangenomen. Reden: ${reasonText(task.statusReason)}.`;
    case 'completed':
      return `Het traject Welzijn op Recept bij ${team.name} is afgerond.`;
    case 'failed':
      return `Het traject Welzijn op Recept bij ${team.name} kon niet worden uitgevoerd. Reden: ${reasonText(task.statusReason)}.`;
    case 'pickup-deadline-missed':
      return `Uw verwijzing is bij het verstrijken van de termijn (${dutchDate(task.restriction?.period?.end)}) nog niet door ${team.name} opgepakt. Neem zo nodig contact op met het wijkteam.`;
    case 'contact-deadline-missed':
      return `De welzijnscoach van ${team.name} heeft de patiënt niet binnen de afgesproken termijn (${dutchDate(contactDeadline)}) gesproken. Neem zo nodig contact op met het wijkteam.`;
  }
}

/** A feedback letter as a Communication: pure, no I/O. Its identifier makes each moment happen once. */
export function feedbackCommunication(facts: FeedbackFacts): Communication {
  const { kind, task, serviceRequest, patient, team } = facts;
  const referralId = serviceRequest.identifier?.[0]?.value ?? serviceRequest.id;
  const letter = [
    `Terugkoppeling Welzijn op Recept: ${FEEDBACK_KINDS[kind]}`,
    `Betreft: ${patientLine(patient)}`,
    `Uw verwijzing van ${dutchDate(serviceRequest.authoredOn)} (uw kenmerk ${referralId})`,
    '',
    body(facts),
    '',
    `Status: ${task.status}${task.businessStatus ? ` (${task.businessStatus.coding?.[0]?.display ?? task.businessStatus.coding?.[0]?.code})` : ''}`,
    '',
    'Met vriendelijke groet,',
    team.name,
  ].join('\n');
  const reason = kind === 'rejected' || kind === 'failed' ? task.statusReason : undefined;
  return {
    resourceType: 'Communication',
    id: facts.id,
    meta: { profile: [PROFILE.Communication] },
    identifier: [{ system: NAMING_SYSTEM.communication, value: `${task.id}/${kind}` }],
    basedOn: [{ reference: `ServiceRequest/${serviceRequest.id}` }],
    status: 'completed',
    category: [{ coding: [{ system: CODE_SYSTEM.feedbackKind, code: kind, display: FEEDBACK_KINDS[kind] }] }],
    subject: { reference: `Patient/${patient.id}` },
    about: [{ reference: `Task/${task.id}` }],
    sent: facts.sentAt.toISOString(),
    recipient: [task.requester ?? serviceRequest.requester!],
    sender: teamReference(team),
    ...(reason ? { reasonCode: [reason] } : {}),
    payload: [{ contentString: letter }],
  };
}
