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
   * Applies `propose` to the current Task (re-run on a concurrent write). What a new status leads to
   * (the consequences for queue, ServiceRequest and timers; the feedback letter) is committed with
   * the Task as outbox messages, so a crash cannot lose it; it is handed on before the answer.
   */
  async update(taskId: string, party: Party, propose: (current: Task) => Task, expectVersion?: string, requestId?: string): Promise<Stored<Task>> {
    const now = new Date();
    let changed: OutboxMessages['task-changed'] | undefined;
    let feedback: OutboxMessages['feedback'] | undefined;
    const result = await this.store.update<Task>(
      'Task',
      taskId,
      (current) => {
        if (expectVersion !== undefined && current.resource.meta?.versionId !== expectVersion) throw preconditionFailed('Task');
        const next = nextTaskVersion(current.resource, propose(current.resource), party, now);
        changed = { taskId, from: current.resource.status, to: next.status };
        const kind = next.status !== current.resource.status ? FEEDBACK_ON_STATUS[next.status] : undefined;
        feedback = kind ? { taskId, kind, ...(requestId ? { requestId } : {}) } : undefined;
        return unchanged(current.resource, next) ? undefined : next;
      },
      { ops: () => [this.outbox.op('task-changed', changed!), ...(feedback ? [this.outbox.op('feedback', feedback)] : [])] },
    );
    if (!result) throw notFound(`Task/${taskId}`);
    if (result.before !== result.after) {
      await this.outbox.dispatch('task-changed', changed!);
      // Delivery has retries of its own; should writing the letter fail now, the relay writes it shortly after.
      if (feedback) await this.outbox.dispatch('feedback', feedback).catch((error: Error) => this.log.warn({ err: { type: error.name }, taskId }, 'feedback deferred'));
      this.log.info({ taskId, from: changed!.from, to: changed!.to, party }, 'task changed');
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

  /**
   * The consequences of a Task change, from the outbox: idempotent, so that a relay after a crash
   * (when the Task may have moved on) does no harm. Reads the Task as it is now.
   */
  async followChange({ taskId, from, to }: OutboxMessages['task-changed']): Promise<void> {
    const task = (await this.store.read<Task>('Task', taskId))?.resource;
    if (!task) return;
    const team = teamOfTask(task);
    if (task.businessStatus || isFinished(task.status)) {
      // The patient was contacted (or the referral ended): the contact deadline no longer runs.
      await this.redis.zrem(this.keys.contactDeadlines(team), taskId);
    }
    if (from === to) return;
    if (QUEUED_STATUSES.includes(from as Task['status']) && !QUEUED_STATUSES.includes(task.status)) await this.leaveQueue(team, taskId);
    if (task.status === 'requested') await this.redis.publish(this.keys.queueSignal, team);
    const requestId = serviceRequestId(task);
    const nextRequestStatus = SERVICE_REQUEST_STATUS_AFTER[task.status];
    if (requestId && nextRequestStatus) {
      await this.store.update<ServiceRequest>('ServiceRequest', requestId, (current) =>
        current.resource.status === 'active' ? { ...current.resource, status: nextRequestStatus } : undefined,
      );
    }
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
