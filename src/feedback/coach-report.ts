import { createHash } from 'node:crypto';
import type { Communication, Reference, Task } from 'fhir/r4.js';
import { z } from 'zod';
import { canonicalJson } from '../canonical-json.js';
import type { Team } from '../directory/directory.js';
import { teamReference } from '../directory/team-organization.js';
import { unprocessable } from '../fhir/operation-outcome.js';
import { ARRANGEMENT_EXTENSION, CODE_SYSTEM, NAMING_SYSTEM, PROFILE } from '../fhir/profiles.js';

export const ARRANGEMENTS = ['positief-denken', 'zingeving', 'bewust-leven', 'interactie', 'gezonde-leefstijl', 'geluk-delen'] as const;

const REPORT_KIND = { system: CODE_SYSTEM.feedbackKind, code: 'intake-report', display: 'Verslag van de welzijnscoach' } as const;

const arrangement = z.strictObject({
  url: z.literal(ARRANGEMENT_EXTENSION),
  valueCodeableConcept: z.strictObject({
    coding: z
      .array(z.strictObject({ system: z.literal(CODE_SYSTEM.arrangement), code: z.enum(ARRANGEMENTS), display: z.string().max(200).optional() }))
      .length(1),
    text: z.string().min(1).max(500).optional(),
  }),
});

const literal = (type: string) =>
  z.strictObject({
    reference: z.string().regex(new RegExp(`^${type}/[A-Za-z0-9.-]{1,64}$`), `expected a reference ${type}/{id}`),
    type: z.literal(type).optional(),
    display: z.string().max(200).optional(),
  });

/**
 * What a coach system sends: at least `about` (the Task) and `payload`; a resource that conforms to
 * wor-communication (basedOn, subject, category, sent, sender, recipient) is accepted as well, as
 * long as it says what the Task says. The service fills in what the client left out.
 */
export const reportSchema = z.strictObject({
  resourceType: z.literal('Communication'),
  // Ignored on create, as FHIR servers do; meta is the service's.
  id: z.string().optional(),
  meta: z.strictObject({ profile: z.array(z.literal(PROFILE.Communication)).max(1).optional() }).optional(),
  identifier: z
    .array(
      z.strictObject({
        system: z.string().url().refine((system) => system !== NAMING_SYSTEM.communication, 'this system is minted by the service; use your own').optional(),
        value: z.string().regex(/^[A-Za-z0-9._:/-]{1,64}$/),
      }),
    )
    .length(1)
    .optional(),
  status: z.literal('completed').optional(),
  category: z
    .array(z.strictObject({ coding: z.array(z.strictObject({ system: z.literal(REPORT_KIND.system), code: z.literal(REPORT_KIND.code), display: z.string().optional() })).length(1) }))
    .length(1)
    .optional(),
  basedOn: z.array(literal('ServiceRequest')).length(1).optional(),
  subject: literal('Patient').optional(),
  about: z.array(literal('Task')).length(1),
  sent: z.iso.datetime({ offset: true }).optional(),
  sender: z.strictObject({ reference: z.string().optional(), identifier: z.strictObject({ system: z.string(), value: z.string() }).optional(), display: z.string().optional() }).optional(),
  recipient: z.array(literal('PractitionerRole')).length(1).optional(),
  payload: z.array(z.strictObject({ contentString: z.string().trim().min(1).max(20_000) })).min(1).max(10),
  extension: z.array(arrangement).max(20).optional(),
});
export type Report = z.output<typeof reportSchema>;

export const taskIdOf = (report: Report) => report.about[0]!.reference.split('/')[1]!;

/** The idempotency key of a report: the client's identifier within the Task (or none: always new). */
export const reportKey = (report: Report) => {
  const identifier = report.identifier?.[0];
  return identifier ? `report|${taskIdOf(report)}|${identifier.system ?? ''}|${identifier.value}` : undefined;
};

/** What the client said, so that the same identifier again is told apart from a correction. */
export const reportHash = (report: Report) => {
  const { id: _id, meta: _meta, ...content } = report;
  return createHash('sha256').update(canonicalJson(content)).digest('hex');
};

function sameTarget(given: Reference | undefined, expected: Reference | undefined, expression: string): void {
  if (given && given.reference !== expected?.reference) throw unprocessable(`${expression} must be ${expected?.reference}, what the Task refers to`, expression);
}

/**
 * A coach report as the Communication to the GP: pure, no I/O. What the client gave must agree with
 * the Task (422 naming the element otherwise); the client's identifier is kept, beside the
 * service's own, which is what delivery to the GP system matches on.
 */
export function reportCommunication(report: Report, task: Task, team: Team, id: string, now: Date): Communication {
  if (!task.requester || !task.focus || !task.for) throw unprocessable('The Task has no referral to report on', 'Communication.about');
  sameTarget(report.basedOn?.[0], task.focus, 'Communication.basedOn[0]');
  sameTarget(report.subject, task.for, 'Communication.subject');
  sameTarget(report.recipient?.[0], task.requester, 'Communication.recipient[0]');
  const sender = teamReference(team);
  if (report.sender && report.sender.reference !== sender.reference && report.sender.identifier?.value !== team.id) {
    throw unprocessable(`Communication.sender must be your team, ${sender.reference}`, 'Communication.sender');
  }
  return {
    resourceType: 'Communication',
    id,
    meta: { profile: [PROFILE.Communication] },
    ...(report.extension ? { extension: report.extension } : {}),
    identifier: [...(report.identifier ?? []), { system: NAMING_SYSTEM.communication, value: `${task.id}/report/${id}` }],
    basedOn: [task.focus],
    status: 'completed',
    category: [{ coding: [REPORT_KIND] }],
    subject: task.for,
    about: [{ reference: `Task/${task.id}` }],
    sent: report.sent ?? now.toISOString(),
    recipient: [task.requester],
    sender,
    payload: report.payload,
  };
}
