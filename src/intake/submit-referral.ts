import { createHash, randomUUID } from 'node:crypto';
import type { Resource } from 'fhir/r4.js';
import { deadlineAfterWorkingDays } from '../calendar/working-days.js';
import { canonicalJson } from '../canonical-json.js';
import type { Directory, Team } from '../directory/directory.js';
import { referralToFhir, type ReferralIds } from './referral-to-fhir.js';
import { conflict, FhirError, unprocessable } from '../fhir/operation-outcome.js';
import type { DeadlineTimers } from '../feedback/deadline-timers.js';
import type { Outbox } from '../outbox/outbox.js';
import type { QueueEntry } from '../queue/team-queues.js';
import type { Db } from '../store/postgres.js';
import type { ResourceStore } from '../store/resource-store.js';
import type { Referral } from './referral.js';
import { MASTER_PARTS, masterDataUse, masterDataWrites, otherDetails, type MasterDataIds } from './master-data.js';

export interface IntakeDependencies {
  store: ResourceStore;
  outbox: Outbox;
  timers: DeadlineTimers;
  directory: Directory;
  masterDataIds: MasterDataIds;
  db: Db;
  /** Counts a referral by the door it came in by and how it ended (`wor_referrals_total`). */
  countReferral: (channel: ReferralChannelName, outcome: ReferralOutcome) => void;
}

export type ReferralChannelName = 'his' | 'fhir' | 'portal';
export type ReferralOutcome = 'created' | 'replayed' | 'refused';

/** Idempotency records of referrals: one per submitting party and its own referral id. */
const REFERRAL_SCOPE = 'referral';

/** Where a referral came from: who may see it, and under which identifiers it is idempotent. */
export interface ReferralChannel {
  /** The door it came in by, for `wor_referrals_total`. */
  name: ReferralChannelName;
  /**
   * The submitting party, with the referral id the idempotency key: the practice (`gp:<AGB>`) for
   * its own referral ids whichever channel brings them, a portal for its transaction numbers.
   */
  party: string;
  identifierSystem: string;
  /** Tenancy tags besides the owning team's. */
  tenants: string[];
  /** Where a field of the referral was in what the channel received, for error expressions. */
  locate?: (referralPath: string) => string;
}

export interface SubmittedReferral {
  created: boolean;
  serviceRequestId: string;
  taskId: string;
  resources: Resource[];
  /** `Type/id` of the resources this submission created (master data may have existed). */
  createdResources: string[];
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
const REFERRAL_OWN: Array<keyof ReferralIds> = ['serviceRequest', 'task', 'consent'];
/** A commit that lost a race for shared master data is tried again on what the winner wrote. */
const MAX_ATTEMPTS = 5;

const storageBusy = () =>
  new FhirError(503, { code: 'transient', diagnostics: 'The referral is stored but not yet queued; retry the same request' }, { 'retry-after': '2' });

/**
 * The one consent check of every channel: nothing reaches the social domain without the patient's
 * active consent permitting it.
 */
function requireConsent(referral: Referral, locate: (path: string) => string): void {
  if (!referral.consent.shareWithSocialDomain) {
    throw unprocessable(
      'The patient’s Consent must be active and permit sharing with the social domain; nothing was stored',
      locate('consent.shareWithSocialDomain'),
      'required',
    );
  }
}

const PLACEHOLDER_IDS: ReferralIds = { patient: '', practitioner: '', practitionerRole: '', practice: '', consent: '', serviceRequest: '', task: '' };

/**
 * What makes two submissions the same referral: the FHIR they become, ids and times aside. Not the
 * Referral as read: each channel reads what it was sent (a transaction's address line as written,
 * its country) where another leaves it out, and the same content must replay whichever channel
 * brought it first.
 */
function contentHash(referral: Referral, team: Team): string {
  const resources = referralToFhir(referral, { ids: PLACEHOLDER_IDS, team, identifierSystem: '', receivedAt: new Date(0), pickupDeadline: '', contactDeadline: '' });
  return createHash('sha256').update(canonicalJson(resources)).digest('hex');
}

/**
 * Stores a referral and puts its Task on the team's queue: all resources, the idempotency record
 * and the outbox entry in one atomic commit, then the queue. Answers only once both are done.
 * Master data (Patient, Practitioner, PractitionerRole, Organization) is shared with the referrals
 * naming the same person or practice: created by the first, updated when a later-written one brings
 * other details.
 */
export async function submitReferral(deps: IntakeDependencies, referral: Referral, channel: ReferralChannel): Promise<SubmittedReferral> {
  const submitted = await writeReferral(deps, referral, channel);
  deps.countReferral(channel.name, submitted.created ? 'created' : 'replayed');
  return submitted;
}

async function writeReferral(deps: IntakeDependencies, referral: Referral, channel: ReferralChannel): Promise<SubmittedReferral> {
  const locate = channel.locate ?? ((path: string) => path);
  requireConsent(referral, locate);
  const team = deps.directory.teamForPostcode(referral.patient.address.postalCode);
  if (!team) {
    throw unprocessable('No sociaal wijkteam serves this postcode', locate('patient.address.postalCode'));
  }
  const acl = [...channel.tenants, `coach:${team.id}`];
  const practiceName = referral.requester.practice.name ?? deps.directory.practice(referral.requester.practice.agb)?.name;
  const named = { ...referral, requester: { ...referral.requester, practice: { ...referral.requester.practice, name: practiceName } } };
  const hash = contentHash(named, team);
  const masterIds = deps.masterDataIds.of(referral, acl);

  for (let attempt = 1; ; attempt += 1) {
    const ids: ReferralIds = { ...masterIds, consent: randomUUID(), serviceRequest: randomUUID(), task: randomUUID() };
    const receivedAt = new Date();
    const contactDeadline = deadlineAfterWorkingDays(receivedAt, team.contactDeadlineDays);
    const resources = referralToFhir(named, {
      ids,
      team,
      identifierSystem: channel.identifierSystem,
      receivedAt,
      pickupDeadline: deadlineAfterWorkingDays(receivedAt, team.pickupDeadlineDays),
      contactDeadline,
    });
    const masterRefs = MASTER_PARTS.map(([part, type]): [string, string] => [type, ids[part]]);
    const stored = await deps.store.readMany(masterRefs);
    const other = otherDetails(resources, stored);
    // Mostly a referral names its practice and GP as stored: then no later referral's use matters, and nothing is asked.
    const newer = other.some(Boolean) ? await masterDataUse.newerThan(deps.db, referral.authoredOn, masterRefs) : masterRefs.map(() => false);
    const master = masterDataWrites(resources, { stored, other }, newer, acl);
    const entry: QueueEntry = { taskId: ids.task, teamId: team.id, urgent: referral.urgency === 'urgent' };
    const record: ReferralRecord = { hash, team: team.id, urgent: entry.urgent, ids };
    const queued = deps.outbox.op('team', entry);
    const result = await deps.store.commit({
      // No read of the record first: the commit itself finds an earlier referral under the same key and writes nothing.
      guard: { scope: REFERRAL_SCOPE, key: `${channel.party}|${referral.referralId}`, value: record, owner: `ServiceRequest/${ids.serviceRequest}` },
      writes: [...REFERRAL_OWN.map((name) => ({ resource: resources[name], acl })), ...master.writes],
      unchanged: master.unchanged,
      effects: [
        queued.write,
        deps.timers.schedule(ids.task, team.id, { 'pickup-deadline-missed': resources.task.restriction!.period!.end!, 'contact-deadline-missed': contactDeadline }),
        masterDataUse.record(ids.serviceRequest, referral.authoredOn, masterRefs),
      ],
    });
    if (result.outcome === 'guarded') return replay(deps, result.existing as ReferralRecord, hash, locate);
    if (result.outcome === 'conflict') {
      if (attempt < MAX_ATTEMPTS) continue;
      throw new FhirError(503, { code: 'transient', diagnostics: 'Concurrent referrals for the same patient or practitioner; retry the same request' }, { 'retry-after': '1' });
    }
    await deps.outbox.dispatch(queued).catch(() => {
      throw storageBusy();
    });
    const written = new Map(result.resources.map((resource) => [`${resource.resourceType}/${resource.id}`, resource]));
    for (const kept of master.unchanged) written.set(`${kept.resource.resourceType}/${kept.resource.id}`, kept.resource);
    return {
      created: true,
      serviceRequestId: ids.serviceRequest,
      taskId: ids.task,
      resources: ORDER.map(([name, type]) => written.get(`${type}/${ids[name]}`)!),
      createdResources: [...REFERRAL_OWN.map((name) => `${resources[name].resourceType}/${ids[name]}`), ...master.created],
    };
  }
}

/** The ids of a referral a party submitted earlier under its own referral id. */
export async function findReferral(deps: Pick<IntakeDependencies, 'store'>, party: string, referralId: string): Promise<ReferralIds | undefined> {
  const record = (await deps.store.guarded(REFERRAL_SCOPE, `${party}|${referralId}`)) as ReferralRecord | undefined;
  return record?.ids;
}

/** The same referral again, by any channel: the same answer (current versions), or 409 when the content differs. */
async function replay(deps: IntakeDependencies, record: ReferralRecord, hash: string, locate: (path: string) => string): Promise<SubmittedReferral> {
  if (record.hash !== hash) {
    throw conflict('This referralId was already used for a referral with different content', locate('referralId'));
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
    createdResources: [],
  };
}
