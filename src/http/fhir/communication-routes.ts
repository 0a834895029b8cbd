import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Communication, Task } from 'fhir/r4.js';
import type { TenantRepository } from '../../auth/tenant-repository.js';
import type { Config } from '../../config.js';
import type { Directory } from '../../directory/directory.js';
import { reportCommunication, reportHash, reportKey, reportSchema, taskIdOf } from '../../feedback/coach-report.js';
import type { FeedbackService } from '../../feedback/feedback-service.js';
import { sendResource } from '../../fhir/etag.js';
import { FhirError, notFound } from '../../fhir/operation-outcome.js';
import { parseOrThrow } from '../../fhir/validation.js';
import { teamOfTask } from '../../tasks/task-service.js';
import { parseSearch } from './search.js';

/** `POST /fhir/Communication`: a coach system reports to the GP (an intake report, chosen activities). */
export default async function communicationRoutes(app: FastifyInstance, { config, directory, feedback }: { config: Config; directory: Directory; feedback: FeedbackService }) {
  app.post('/fhir/Communication', { config: { roles: ['coach', 'operator'], scope: 'Communication.c' } }, async (request, reply) => {
    const { caller, repo } = request;
    const report = parseOrThrow(reportSchema, request.body, 'Communication');
    const taskId = taskIdOf(report);
    const task = await repo.inTenancy<Task>('Task', taskId);
    // The team must own the Task; any other Task is answered as missing (contract §3).
    const team = task ? directory.team(teamOfTask(task.resource)) : undefined;
    if (!task || !team || (caller.role === 'coach' && caller.org !== team.id)) throw notFound(`Task/${taskId}`);

    const send = (communication: Communication, status: number) =>
      sendResource(reply.header('location', `${config.PUBLIC_BASE_URL}/fhir/Communication/${communication.id}/_history/${communication.meta?.versionId}`), communication, status);
    const ifNoneExist = request.headers['if-none-exist'];
    if (typeof ifNoneExist === 'string') {
      const matches = await conditionalMatches(repo, ifNoneExist);
      if (matches.length > 1) throw new FhirError(412, { code: 'duplicate', expression: 'If-None-Exist', diagnostics: 'More than one Communication matches If-None-Exist' });
      if (matches[0]) return send(matches[0], 200);
    }

    const communication = reportCommunication(report, task.resource, team, randomUUID(), new Date());
    const result = await feedback.write(communication, task.acl, request.id, { key: reportKey(report), hash: reportHash(report) });
    const stored = await repo.inTenancy<Communication>('Communication', result.id);
    return send(stored!.resource, result.created ? 201 : 200);
  });
}

/** The caller's Communications that match conditional-create criteria (identifier only). */
async function conditionalMatches(repo: TenantRepository, criteria: string) {
  const params = Object.fromEntries(new URLSearchParams(criteria.replace(/^Communication\?/, '')));
  const { query, unsupported } = parseSearch('Communication', params);
  if (unsupported.length > 0 || !params.identifier || Object.keys(params).length !== 1) {
    throw new FhirError(400, { code: 'not-supported', expression: 'If-None-Exist', diagnostics: 'If-None-Exist supports identifier=[system]|value only' });
  }
  const { resources } = await repo.search({ ...query, count: 2 });
  return resources as Communication[];
}
