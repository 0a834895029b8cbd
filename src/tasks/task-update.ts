import type { Task } from 'fhir/r4.js';
import { z } from 'zod';
import { canonicalJson } from '../canonical-json.js';
import { conflict, FhirError } from '../fhir/operation-outcome.js';
import { CODE_SYSTEM } from '../fhir/profiles.js';
import { parseOrThrow } from '../fhir/validation.js';
import { checkTransition, isFinished, type Party } from './state-machine.js';

export const BUSINESS_STEPS = ['contact-made', 'intake-held', 'activity-started', 'patient-unreachable', 'trajectory-completed'] as const;

const coding = z.strictObject({
  system: z.string().url().optional(),
  version: z.string().optional(),
  code: z.string().min(1).max(64).optional(),
  display: z.string().min(1).max(500).optional(),
  userSelected: z.boolean().optional(),
});
const codeableConcept = z.strictObject({ coding: z.array(coding).max(10).optional(), text: z.string().min(1).max(2000).optional() });
const annotation = z.strictObject({
  text: z.string().min(1).max(4000),
  time: z.iso.datetime({ offset: true }).optional(),
  authorString: z.string().min(1).max(200).optional(),
});
const businessStatus = codeableConcept.refine(
  (concept) => concept.coding?.some((item) => item.system === CODE_SYSTEM.businessStep && (BUSINESS_STEPS as readonly string[]).includes(item.code ?? '')),
  `businessStatus needs a coding from ${CODE_SYSTEM.businessStep} (${BUSINESS_STEPS.join(', ')})`,
);

/** The elements of a Task that may change after intake, per party; everything else is fixed. */
const MUTABLE: Record<Party, string[]> = {
  team: ['status', 'statusReason', 'businessStatus', 'note'],
  operator: ['status', 'statusReason', 'businessStatus', 'note'],
  referrer: ['status', 'statusReason'],
  queue: ['status', 'statusReason'],
};

const mutableSchema = z.object({
  status: z.enum(['draft', 'requested', 'received', 'accepted', 'rejected', 'ready', 'cancelled', 'in-progress', 'on-hold', 'failed', 'completed', 'entered-in-error']),
  statusReason: codeableConcept.optional(),
  businessStatus: businessStatus.optional(),
  note: z.array(annotation).max(50).optional(),
});

/** Elements the server maintains itself; a client's copy of them is ignored. */
const SERVER_MAINTAINED = ['meta', 'lastModified', 'text'];

/**
 * The next version of a Task after a party's proposed update (from PUT, PATCH or the queue): only
 * the party's mutable elements may differ, and the status change must be allowed. Pure.
 */
export function nextTaskVersion(current: Task, proposed: Task, party: Party, now: Date): Task {
  if (proposed?.resourceType !== 'Task') throw new FhirError(400, { code: 'invalid', expression: 'resourceType', diagnostics: 'The body must be a Task' });
  if (proposed.id !== current.id) throw new FhirError(400, { code: 'invalid', expression: 'Task.id', diagnostics: 'The Task id in the body must match the URL' });
  const keys = new Set([...Object.keys(current), ...Object.keys(proposed)]);
  for (const key of keys) {
    if (SERVER_MAINTAINED.includes(key) || MUTABLE[party].includes(key)) continue;
    const before = (current as unknown as Record<string, unknown>)[key];
    const after = (proposed as unknown as Record<string, unknown>)[key];
    if (canonicalJson(before) !== canonicalJson(after)) {
      throw new FhirError(422, { code: 'business-rule', expression: `Task.${key}`, diagnostics: `Task.${key} cannot be changed here` });
    }
  }
  const changes = parseOrThrow(
    mutableSchema,
    Object.fromEntries(MUTABLE[party].map((key) => [key, (proposed as unknown as Record<string, unknown>)[key]])),
    'Task',
  );
  if (isFinished(current.status) && changes.status === current.status && canonicalJson(changes.statusReason) !== canonicalJson(current.statusReason)) {
    throw conflict(`A ${current.status} Task is finished; its statusReason stays as it is`, 'Task.statusReason');
  }
  checkTransition(current.status, changes.status, party, changes.statusReason);
  const next: Task = { ...current, lastModified: now.toISOString() } as Task;
  for (const key of MUTABLE[party]) {
    const value = (changes as Record<string, unknown>)[key];
    if (value === undefined) delete (next as unknown as Record<string, unknown>)[key];
    else (next as unknown as Record<string, unknown>)[key] = value;
  }
  return next;
}
