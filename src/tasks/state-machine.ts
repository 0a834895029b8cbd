import type { CodeableConcept, Task } from 'fhir/r4.js';
import { conflict, FhirError, forbidden } from '../fhir/operation-outcome.js';

export type TaskStatus = Task['status'];

/**
 * Who moves a Task: the queue itself (claim, release, expired lease), the owning team, the
 * referrer, or an operator (who may make any move the state machine allows).
 */
export type Party = 'queue' | 'team' | 'referrer' | 'operator';

/** The FHIR Task state machine, as far as a Welzijn op Recept referral uses it. */
export const TRANSITIONS: Record<TaskStatus, TaskStatus[]> = {
  draft: [],
  requested: ['received', 'accepted', 'rejected', 'cancelled'],
  received: ['requested', 'accepted', 'rejected', 'cancelled'],
  accepted: ['in-progress', 'on-hold', 'completed', 'failed', 'cancelled'],
  ready: [],
  'in-progress': ['on-hold', 'completed', 'failed', 'cancelled'],
  'on-hold': ['in-progress', 'completed', 'failed', 'cancelled'],
  rejected: [],
  cancelled: [],
  failed: [],
  completed: [],
  'entered-in-error': [],
};

/** Which party may set which status (contract §6, issue: the referrer cancels, the team does the rest). */
export const SET_BY: Partial<Record<TaskStatus, Party[]>> = {
  requested: ['queue'],
  received: ['queue'],
  accepted: ['team', 'operator'],
  rejected: ['team', 'operator'],
  'in-progress': ['team', 'operator'],
  'on-hold': ['team', 'operator'],
  completed: ['team', 'operator'],
  failed: ['team', 'operator'],
  cancelled: ['referrer', 'operator'],
};

export const REASON_REQUIRED: TaskStatus[] = ['rejected', 'failed', 'cancelled', 'on-hold'];

/** Statuses in which a Task sits on (or is held from) its team queue. */
export const QUEUED_STATUSES: TaskStatus[] = ['requested', 'received'];

export const isFinished = (status: TaskStatus) => TRANSITIONS[status].length === 0;

/**
 * Checks a status change by a party; throws 403 when the party may not set that status, 409 when
 * the state machine does not allow it, 422 when a required reason is missing.
 */
export function checkTransition(from: TaskStatus, to: TaskStatus, party: Party, statusReason: CodeableConcept | undefined): void {
  if (from === to) return;
  if (!SET_BY[to]?.includes(party)) {
    throw forbidden(`The ${party === 'referrer' ? 'referrer' : party} may not set a Task to ${to}`);
  }
  if (!TRANSITIONS[from].includes(to)) {
    throw conflict(`A Task cannot go from ${from} to ${to}`, 'Task.status');
  }
  if (REASON_REQUIRED.includes(to) && !statusReason?.text && !statusReason?.coding?.length) {
    throw new FhirError(422, { code: 'required', expression: 'Task.statusReason', diagnostics: `A Task set to ${to} needs a statusReason` });
  }
}
