import { createHash, randomUUID } from 'node:crypto';
import type { Resource } from 'fhir/r4.js';
import { deadlineAfterWorkingDays } from '../calendar/working-days.js';
import { canonicalJson } from '../canonical-json.js';
import type { Directory } from '../directory/directory.js';
import { referralToFhir, type ReferralIds } from './referral-to-fhir.js';
import { conflict, FhirError, unprocessable } from '../fhir/operation-outcome.js';
import type { DeadlineTimers } from '../feedback/deadline-timers.js';
import type { Outbox } from '../outbox/outbox.js';
import type { QueueEntry } from '../queue/team-queues.js';
import type { ResourceStore } from '../store/resource-store.js';
import type { Referral } from './referral.js';

export interface IntakeDependencies {
  store: ResourceStore;
  outbox: Outbox;
  timers: DeadlineTimers;
  directory: Directory;
}

/** Idempotency records of referrals: one per submitting party and its own referral id. */
const REFERRAL_SCOPE = 'referral';

/** Where a referral came from: who may see it, and under which identifiers it is idempotent. */
export interface ReferralChannel {
  /** The submitting party, e.g. `gp:01054321`; with the referral id the idempotency key. */
  party: string;
  identifierSystem: string;
  /** Tenancy tags besides the owning team's. */
  tenants: string[];
}

export interface SubmittedReferral {
  created: boolean;
  serviceRequestId: string;
  taskId: string;
  resources: Resource[];
}

/** What the idempotency record keeps: the content hash and the ids of what was written. */
interface ReferralRecord {
  hash: string;
  team: string;
  urgent: boolean;
  ids: ReferralIds;
}

const ORDER: Array<[keyof ReferralIds, string]> = [
  ['serviceRequest', 'ServiceRequest'],
  ['task', 'Task'],
  ['patient', 'Patient'],
  ['consent', 'Consent'],
  ['practitioner', 'Practitioner'],
  ['practitionerRole', 'PractitionerRole'],
  ['practice', 'Organization'],
];

const storageBusy = () =>
  new FhirError(503, { code: 'transient', diagnostics: 'The referral is stored but not yet queued; retry the same request' }, { 'retry-after': '2' });

/**
 * Stores a referral and puts its Task on the team's queue: all resources, the idempotency record
 * and the outbox entry in one atomic commit, then the queue. Answers only once both are done.
 */
export async function submitReferral(deps: IntakeDependencies, referral: Referral, channel: ReferralChannel): Promise<SubmittedReferral> {
  const team = deps.directory.teamForPostcode(referral.patient.address.postalCode);
  if (!team) {
    throw unprocessable('No sociaal wijkteam serves this postcode', 'patient.address.postalCode');
  }
  const hash = createHash('sha256').update(canonicalJson(referral)).digest('hex');
  // No read first: the commit itself finds an earlier referral under the same key and writes nothing.
  const guardKey = `${channel.party}|${referral.referralId}`;

  const ids: ReferralIds = {
    patient: randomUUID(),
    practitioner: randomUUID(),
    practitionerRole: randomUUID(),
    practice: randomUUID(),
    consent: randomUUID(),
    serviceRequest: randomUUID(),
    task: randomUUID(),
  };
  const receivedAt = new Date();
  const contactDeadline = deadlineAfterWorkingDays(receivedAt, team.contactDeadlineDays);
  const practiceName = referral.requester.practice.name ?? deps.directory.practice(referral.requester.practice.agb)?.name;
  const resources = referralToFhir(
    { ...referral, requester: { ...referral.requester, practice: { ...referral.requester.practice, name: practiceName } } },
    {
      ids,
      team,
      identifierSystem: channel.identifierSystem,
      receivedAt,
      pickupDeadline: deadlineAfterWorkingDays(receivedAt, team.pickupDeadlineDays),
      contactDeadline,
    },
  );
  const acl = [...channel.tenants, `coach:${team.id}`];
  const entry: QueueEntry = { taskId: ids.task, teamId: team.id, urgent: referral.urgency === 'urgent' };
  const record: ReferralRecord = { hash, team: team.id, urgent: entry.urgent, ids };
  const queued = deps.outbox.op('team', entry);
  const result = await deps.store.commit({
    writes: ORDER.map(([name]) => ({ resource: resources[name], acl })),
    guard: { scope: REFERRAL_SCOPE, key: guardKey, value: record, owner: `ServiceRequest/${ids.serviceRequest}` },
    effects: [
      queued.write,
      deps.timers.schedule('pickup-deadline-missed', ids.task, team.id, resources.task.restriction!.period!.end!),
      deps.timers.schedule('contact-deadline-missed', ids.task, team.id, contactDeadline),
    ],
  });
  if (result.outcome === 'guarded') return replay(deps, result.existing as ReferralRecord, hash);
  if (result.outcome === 'conflict') throw new Error('a new referral collided with an existing resource id');
  await deps.outbox.dispatch(queued).catch(() => {
    throw storageBusy();
  });
  return { created: true, serviceRequestId: ids.serviceRequest, taskId: ids.task, resources: result.resources };
}

/** The ids of a referral a party submitted earlier under its own referral id. */
export async function findReferral(deps: Pick<IntakeDependencies, 'store'>, party: string, referralId: string): Promise<ReferralIds | undefined> {
  const record = (await deps.store.guarded(REFERRAL_SCOPE, `${party}|${referralId}`)) as ReferralRecord | undefined;
  return record?.ids;
}

/** The same referral again: the same answer (current versions), or 409 when the content differs. */
async function replay(deps: IntakeDependencies, record: ReferralRecord, hash: string): Promise<SubmittedReferral> {
  if (record.hash !== hash) {
    throw conflict('This referralId was already used for a referral with different content', 'referralId');
  }
  // The first answer may have been lost before its Task was queued: queue it now, as it would have been.
  const pending = await deps.outbox.pendingFor('team', record.ids.task);
  if (pending) {
    await deps.outbox.dispatch(pending).catch(() => {
      throw storageBusy();
    });
  }
  const stored = await deps.store.readMany(ORDER.map(([name, type]) => [type, record.ids[name]]));
  return {
    created: false,
    serviceRequestId: record.ids.serviceRequest,
    taskId: record.ids.task,
    resources: stored.flatMap((item) => (item ? [item.resource] : [])),
  };
}
