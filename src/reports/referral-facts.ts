import type { Communication, Extension, ServiceRequest, Task } from 'fhir/r4.js';
import { ICPC_SYSTEM } from '../identifiers/dutch-identifiers.js';
import { ARRANGEMENT_EXTENSION, CODE_SYSTEM, CONTACT_DEADLINE_EXTENSION } from '../fhir/profiles.js';
import { QUEUED_STATUSES } from '../tasks/state-machine.js';

/** The business steps that mean the coach has been in touch with the patient. */
const CONTACT_STEPS = new Set(['contact-made', 'intake-held', 'activity-started', 'trajectory-completed']);

/**
 * What the outcome figures need of one referral, and nothing that identifies its patient: no names,
 * no BSN, no free text (a rejection reason typed by a coach may name the patient, so only its code).
 */
export interface ReferralFacts {
  team: string;
  practice: string;
  receivedAt: string;
  pickupDeadline?: string;
  contactDeadline?: string;
  /** When the team first answered the referral (accepted or rejected it). */
  answeredAt?: string;
  accepted: boolean;
  rejected: boolean;
  rejectionReason?: string;
  firstContactAt?: string;
  /** The Task's current status. */
  status: Task['status'];
  /** The ICPC chapter (first letter) of the referral's first ICPC reason. */
  icpcChapter?: string;
  /** Arrangement codes the coach reported. */
  arrangements: string[];
}

const at = (task: Task) => task.meta?.lastUpdated ?? task.lastModified ?? task.authoredOn ?? '';
const isContact = (task: Task) => task.businessStatus?.coding?.some((coding) => coding.system === CODE_SYSTEM.businessStep && CONTACT_STEPS.has(coding.code ?? '')) ?? false;

/**
 * The facts of one referral from every version of its Task (oldest first), the ServiceRequest it
 * fulfils and the coach's reports about it. Pure.
 */
export function referralFacts(input: { team: string; practice: string; versions: Task[]; serviceRequest?: ServiceRequest; reports: Communication[] }): ReferralFacts {
  const { versions } = input;
  const first = versions[0]!;
  const current = versions[versions.length - 1]!;
  const answered = versions.find((version) => !QUEUED_STATUSES.includes(version.status) && version.status !== 'draft');
  const rejection = versions.find((version) => version.status === 'rejected');
  const contact = versions.find(isContact);
  const icpc = input.serviceRequest?.reasonCode?.flatMap((concept) => concept.coding ?? []).find((coding) => coding.system === ICPC_SYSTEM)?.code;
  const arrangements = input.reports.flatMap((report) =>
    (report.extension ?? [])
      .filter((extension: Extension) => extension.url === ARRANGEMENT_EXTENSION)
      .flatMap((extension) => extension.valueCodeableConcept?.coding ?? [])
      .filter((coding) => coding.system === CODE_SYSTEM.arrangement && coding.code)
      .map((coding) => coding.code!),
  );
  const reasonCode = rejection?.statusReason?.coding?.[0]?.code;
  return {
    team: input.team,
    practice: input.practice,
    receivedAt: first.authoredOn ?? at(first),
    ...(first.restriction?.period?.end ? { pickupDeadline: first.restriction.period.end } : {}),
    ...optional('contactDeadline', first.extension?.find((extension) => extension.url === CONTACT_DEADLINE_EXTENSION)?.valueDateTime),
    ...optional('answeredAt', answered ? at(answered) : undefined),
    accepted: versions.some((version) => version.status === 'accepted'),
    rejected: rejection !== undefined,
    ...(rejection ? { rejectionReason: reasonCode ?? 'uncoded' } : {}),
    ...optional('firstContactAt', contact ? at(contact) : undefined),
    status: current.status,
    ...optional('icpcChapter', icpc?.[0]?.toUpperCase()),
    arrangements: [...new Set(arrangements)].sort(),
  };
}

const optional = <K extends string>(key: K, value: string | undefined) => (value ? ({ [key]: value } as Record<K, string>) : {});
