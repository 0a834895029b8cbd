import type { CodeableConcept, ServiceRequest, Task } from 'fhir/r4.js';
import type { Redis } from 'ioredis';
import type { FastifyBaseLogger } from 'fastify';
import { canonicalJson } from '../canonical-json.js';
import { notFound, preconditionFailed } from '../fhir/operation-outcome.js';
import type { TeamQueues } from '../queue/team-queues.js';
import type { Keys } from '../store/keys.js';
import type { ResourceStore, Stored } from '../store/resource-store.js';
import { FEEDBACK_ON_STATUS } from '../feedback/feedback-letter.js';
import type { Outbox, OutboxMessages } from '../outbox/outbox.js';
import { isFinished, QUEUED_STATUSES, type Party } from './state-machine.js';
import { nextTaskVersion } from './task-update.js';

export const teamOfTask = (task: Task) => task.owner?.identifier?.value ?? '';
const serviceRequestId = (task: Task) => task.focus?.reference?.split('/')[1];

/** What a Task's end means for the referral it fulfils. */
const SERVICE_REQUEST_STATUS_AFTER: Partial<Record<Task['status'], ServiceRequest['status']>> = {
  cancelled: 'revoked',
  completed: 'completed',
};

export interface StatusChange {
  status: Task['status'];
  statusReason?: CodeableConcept;
}

/**
 * Every change of a Task goes through here, whichever door it came in by (queue lease, FHIR PUT or
 * PATCH, cancellation): the state machine is checked on the freshest version, and what follows
 * from the new status happens after the write (the queue let go, the ServiceRequest revoked).
 */
export class TaskService {
  constructor(
    private readonly store: ResourceStore,
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly queues: TeamQueues,
    private readonly outbox: Outbox,
    private readonly log: FastifyBaseLogger,
  ) {}

  /**
   * Applies `propose` to the current Task (re-run on a concurrent write) and the consequences. The
   * feedback a new status calls for is committed with it as an outbox message, so it cannot be lost.
   */
  async update(taskId: string, party: Party, propose: (current: Task) => Task, expectVersion?: string, requestId?: string): Promise<Stored<Task>> {
    const now = new Date();
    let feedback: OutboxMessages['feedback'] | undefined;
    const result = await this.store.update<Task>(
      'Task',
      taskId,
      (current) => {
        if (expectVersion !== undefined && current.resource.meta?.versionId !== expectVersion) throw preconditionFailed('Task');
        const next = nextTaskVersion(current.resource, propose(current.resource), party, now);
        const kind = next.status !== current.resource.status ? FEEDBACK_ON_STATUS[next.status] : undefined;
        feedback = kind ? { taskId, kind, ...(requestId ? { requestId } : {}) } : undefined;
        return unchanged(current.resource, next) ? undefined : next;
      },
      { ops: () => (feedback ? [this.outbox.op('feedback', feedback)] : []) },
    );
    if (!result) throw notFound(`Task/${taskId}`);
    await this.afterChange(result.before.resource, result.after.resource, party);
    if (feedback && result.before !== result.after) {
      // Written before the answer; if that fails, the outbox relay writes it shortly after.
      await this.outbox.dispatch('feedback', feedback).catch((error: Error) => this.log.warn({ err: { type: error.name }, taskId }, 'feedback deferred'));
    }
    return result.after;
  }

  changeStatus(taskId: string, party: Party, change: StatusChange, requestId?: string): Promise<Stored<Task>> {
    return this.update(
      taskId,
      party,
      (current) => {
        const { statusReason: _previousReason, ...rest } = current;
        return { ...rest, status: change.status, ...(change.statusReason ? { statusReason: change.statusReason } : {}) } as Task;
      },
      undefined,
      requestId,
    );
  }

  private async afterChange(before: Task, after: Task, party: Party): Promise<void> {
    const team = teamOfTask(after);
    if (after.businessStatus || isFinished(after.status)) {
      // The patient was contacted (or the referral ended): the contact deadline no longer runs.
      await this.redis.zrem(this.keys.contactDeadlines(team), after.id!);
    }
    if (before.status === after.status) return;
    if (QUEUED_STATUSES.includes(before.status) && !QUEUED_STATUSES.includes(after.status)) {
      await this.leaveQueue(team, after.id!);
    }
    if (after.status === 'requested') await this.redis.publish(this.keys.queueSignal, team);
    const requestId = serviceRequestId(after);
    const nextRequestStatus = SERVICE_REQUEST_STATUS_AFTER[after.status];
    if (requestId && nextRequestStatus) {
      await this.store.update<ServiceRequest>('ServiceRequest', requestId, (current) =>
        current.resource.status === 'active' ? { ...current.resource, status: nextRequestStatus } : undefined,
      );
    }
    this.log.info({ taskId: after.id, team, from: before.status, to: after.status, party }, 'task status changed');
  }

  /**
   * Takes a Task off its queue: a waiting job is removed, a leased one completed with its lease.
   * A job whose lease already ran out comes back by itself and is then skipped by the claim.
   */
  async leaveQueue(teamId: string, taskId: string): Promise<void> {
    await this.redis.zrem(this.keys.pickupDeadlines(teamId), taskId);
    if (!this.queues.has(teamId)) return;
    const job = await this.queues.job(teamId, taskId);
    if (!job) return;
    const state = await job.getState();
    const leaseId = await this.redis.get(this.keys.leaseOfTask(taskId));
    if (state === 'active' && leaseId) {
      await job.moveToCompleted({ closed: true }, leaseId, false).catch(() => undefined);
    } else if (state === 'waiting' || state === 'prioritized' || state === 'delayed') {
      await job.remove().catch(() => undefined);
    }
    // The lease record itself stays until it expires, so the coach system holding it learns why.
    if (leaseId) await this.redis.del(this.keys.leaseOfTask(taskId));
  }
}

/** Nothing but server-maintained elements differs: no new version is written. */
function unchanged(current: Task, next: Task): boolean {
  const content = ({ meta: _meta, lastModified: _lastModified, ...rest }: Task) => canonicalJson(rest);
  return content(current) === content(next);
}
