import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Communication, Task } from 'fhir/r4.js';
import { z } from 'zod';
import { teamReference } from '../directory/team-organization.js';
import { FHIR_JSON } from '../fhir/media-type.js';
import { FhirError, notFound } from '../fhir/operation-outcome.js';
import { ARRANGEMENT_EXTENSION, CODE_SYSTEM, NAMING_SYSTEM, PROFILE } from '../fhir/profiles.js';
import { sendResource } from '../http/fhir/etag.js';
import { parseOrThrow } from '../fhir/validation.js';
import { teamOfTask } from '../tasks/task-service.js';

export const ARRANGEMENTS = ['positief-denken', 'zingeving', 'bewust-leven', 'interactie', 'gezonde-leefstijl', 'geluk-delen'] as const;

const arrangement = z.strictObject({
  url: z.literal(ARRANGEMENT_EXTENSION),
  valueCodeableConcept: z.strictObject({
    coding: z
      .array(z.strictObject({ system: z.literal(CODE_SYSTEM.arrangement), code: z.enum(ARRANGEMENTS), display: z.string().max(200).optional() }))
      .length(1),
    text: z.string().min(1).max(500).optional(),
  }),
});

/** What a coach system sends; the service fills in everything it already knows from the Task. */
const reportSchema = z.strictObject({
  resourceType: z.literal('Communication'),
  identifier: z.array(z.strictObject({ system: z.string().url().optional(), value: z.string().regex(/^[A-Za-z0-9._:/-]{1,64}$/) })).length(1).optional(),
  status: z.literal('completed').optional(),
  about: z.array(z.strictObject({ reference: z.string().regex(/^Task\/[A-Za-z0-9.-]{1,64}$/, 'expected a reference Task/{id}') })).length(1),
  payload: z.array(z.strictObject({ contentString: z.string().trim().min(1).max(20_000) })).min(1).max(10),
  extension: z.array(arrangement).max(20).optional(),
});

/** `POST /fhir/Communication`: a coach system reports to the GP (an intake report, chosen activities). */
export default async function communicationRoutes(app: FastifyInstance) {
  app.post('/fhir/Communication', { config: { roles: ['coach', 'operator'], scope: 'Communication.c' } }, async (request, reply) => {
    const { caller } = request;
    const report = parseOrThrow(reportSchema, request.body, 'Communication');
    const taskId = report.about[0]!.reference.split('/')[1]!;
    const task = await request.repo.inTenancy<Task>('Task', taskId);
    // The team must own the Task; any other Task is answered as missing (contract §3).
    if (!task) throw notFound(`Task/${taskId}`);
    const team = app.directory.team(teamOfTask(task.resource));
    if (!team || (caller.role === 'coach' && caller.org !== team.id)) throw notFound(`Task/${taskId}`);
    if (!task.resource.requester || !task.resource.focus || !task.resource.for) {
      throw new FhirError(422, { code: 'business-rule', expression: 'Communication.about', diagnostics: 'The Task has no referral to report on' });
    }
    const own = report.identifier?.[0]?.value ?? randomUUID();
    const communication: Communication = {
      resourceType: 'Communication',
      id: randomUUID(),
      meta: { profile: [PROFILE.Communication] },
      ...(report.extension ? { extension: report.extension } : {}),
      identifier: [{ system: NAMING_SYSTEM.communication, value: `${taskId}/report/${own}` }],
      basedOn: [task.resource.focus],
      status: 'completed',
      category: [{ coding: [{ system: CODE_SYSTEM.feedbackKind, code: 'intake-report', display: 'Verslag van de welzijnscoach' }] }],
      subject: task.resource.for,
      about: [{ reference: `Task/${taskId}` }],
      sent: new Date().toISOString(),
      recipient: [task.resource.requester],
      sender: teamReference(team),
      payload: report.payload,
    };
    const result = await app.feedback.write(communication, task.acl, request.id);
    const stored = await request.repo.inTenancy<Communication>('Communication', result.id);
    reply.header('location', `/fhir/Communication/${result.id}`);
    return sendResource(reply.type(FHIR_JSON), stored!.resource, result.created ? 201 : 200);
  });
}
