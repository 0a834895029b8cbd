import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { ServiceRequest, Task } from 'fhir/r4.js';
import type { Redis } from 'ioredis';
import { teamTag } from '../auth/caller.js';
import { conflict, FhirError, notFound } from '../fhir/operation-outcome.js';
import type { DeadlineTimers } from '../feedback/deadline-timers.js';
import type { RedisKeys } from '../store/redis-keys.js';
import type { Cursor, ResourceStore, Stored } from '../store/resource-store.js';
import { QUEUED_STATUSES } from '../tasks/state-machine.js';
import { teamOfTask, type TaskChange, type TaskService } from '../tasks/task-service.js';
import type { QueueSignal } from './queue-signal.js';
import type { TeamQueues } from './team-queues.js';

export interface Lease {
  id: string;
  expiresAt: string;
}

export interface Claim {
  lease: Lease;
  task: Task;
  /** Task, ServiceRequest, Patient, Consent and the requester as stored, for the caller's disclosure check. */
  resources: Stored[];
}

interface LeaseRecord {
  team: string;
  taskId: string;
  /** When the lease runs out (epoch ms), as granted at the claim or the last extension. */
  expiresAt: number;
}

/** How long a lease record outlives its lease, so that a late ack hears "expired" rather than "unknown". */
const LEASE_RECORD_GRACE_SECONDS = 3600;
const POLL_INTERVAL_MS = 1000;

/**
 * Compare-and-delete of a Task's lease pointer: only if it still names the expired lease. A claim
 * since then has written its own lease id, which stays (returns 0).
 * KEYS[1] = lease pointer of the Task, ARGV[1] = the expired lease id.
 */
const DELETE_IF_UNCHANGED_SCRIPT = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
`;

const leaseExpired = () => conflict('This lease has expired; the task went back to the queue. Claim again.');

export interface LeaseServiceOptions {
  store: ResourceStore;
  redis: Redis;
  keys: RedisKeys;
  queues: TeamQueues;
  tasks: TaskService;
  signal: QueueSignal;
  timers: DeadlineTimers;
  log: FastifyBaseLogger;
}

/**
 * The team queue as coach systems see it (contract §6): claim with a lease, then ack, release or
 * extend it. BullMQ holds the queue and the locks; the Task in the store follows every move.
 */
export class LeaseService {
  constructor(private readonly options: LeaseServiceOptions) {}

  /** Long-polls up to `waitSeconds` for the next task; undefined when none came. */
  async claim(teamId: string, waitSeconds: number, closing: () => boolean): Promise<Claim | undefined> {
    const deadline = Date.now() + waitSeconds * 1000;
    for (;;) {
      const claim = await this.claimNext(teamId);
      if (claim) return claim;
      const remaining = deadline - Date.now();
      if (remaining <= 0 || closing()) return undefined;
      await this.options.signal.wait(teamId, Math.min(remaining, POLL_INTERVAL_MS));
    }
  }

  private async claimNext(teamId: string): Promise<Claim | undefined> {
    for (;;) {
      const leaseId = randomUUID();
      const job = await this.options.queues.take(teamId, leaseId);
      if (!job) return undefined;
      const expiresAt = Date.now() + this.options.queues.leaseMs;
      const taskId = job.data.taskId;
      const current = await this.options.store.read<Task>('Task', taskId);
      if (!current || !QUEUED_STATUSES.includes(current.resource.status)) {
        // Cancelled or finished while it waited: it does not belong on the queue any more.
        await job.moveToCompleted({ closed: true }, leaseId, false).catch(() => undefined);
        continue;
      }
      const record: LeaseRecord = { team: teamId, taskId, expiresAt };
      const ttl = Math.ceil(this.options.queues.leaseMs / 1000) + LEASE_RECORD_GRACE_SECONDS;
      await this.options.redis
        .multi()
        .set(this.options.keys.lease(leaseId), JSON.stringify(record), 'EX', ttl)
        .set(this.options.keys.leaseOfTask(taskId), leaseId, 'EX', ttl)
        .exec();
      const task = current.resource.status === 'received' ? current : await this.options.tasks.changeStatus(taskId, 'queue', { status: 'received' });
      this.options.log.info({ taskId, team: teamId, leaseId }, 'task claimed');
      return { lease: { id: leaseId, expiresAt: new Date(expiresAt).toISOString() }, task: task.resource, resources: await this.claimBundle(task) };
    }
  }

  private async claimBundle(task: Stored<Task>): Promise<Stored[]> {
    const [requestType, requestId] = (task.resource.focus?.reference ?? '').split('/') as [string, string];
    const request = await this.options.store.read<ServiceRequest>(requestType, requestId);
    const refs = [request?.resource.subject?.reference, ...(request?.resource.supportingInfo ?? []).map((info) => info.reference), request?.resource.requester?.reference];
    const related = await this.options.store.readMany(refs.flatMap((ref) => (ref ? [ref.split('/') as [string, string]] : [])));
    const role = related.find((item) => item?.resource.resourceType === 'PractitionerRole')?.resource as
      | { practitioner?: { reference?: string }; organization?: { reference?: string } }
      | undefined;
    const requester = await this.options.store.readMany(
      [role?.practitioner?.reference, role?.organization?.reference].flatMap((ref) => (ref ? [ref.split('/') as [string, string]] : [])),
    );
    return [task, ...[request, ...related, ...requester].flatMap((item) => (item ? [item] : []))];
  }

  /** The lease record, if it belongs to this team; unknown and foreign leases are both 404. */
  private async leaseRecord(teamId: string, leaseId: string): Promise<LeaseRecord> {
    const json = await this.options.redis.get(this.options.keys.lease(leaseId));
    const record = json ? (JSON.parse(json) as LeaseRecord) : undefined;
    if (!record || record.team !== teamId) throw notFound('Lease');
    return record;
  }

  /**
   * The lease, if its job's lock is still held with it: 409 once it expired (or was closed by a
   * cancellation). BullMQ's extendLock checks the token atomically; extending to the expiry already
   * granted leaves the lease as long as it was.
   */
  private async heldLease(teamId: string, leaseId: string): Promise<LeaseRecord> {
    const record = await this.leaseRecord(teamId, leaseId);
    const remainingMs = record.expiresAt - Date.now();
    const job = remainingMs > 0 ? await this.options.queues.job(teamId, record.taskId) : undefined;
    if (!job || !(await job.extendLock(leaseId, remainingMs))) {
      const task = await this.options.store.read<Task>('Task', record.taskId);
      throw task?.resource.status === 'cancelled' ? cancelledByReferrer() : leaseExpired();
    }
    return record;
  }

  /** The coach system's answer: the Task takes the status and leaves the queue. */
  async acknowledge(teamId: string, leaseId: string, status: 'accepted' | 'rejected', statusReason: string | undefined, requestId: string): Promise<Task> {
    const record = await this.heldLease(teamId, leaseId);
    const updated = await this.options.tasks.changeStatus(
      record.taskId,
      'team',
      { status, ...(statusReason ? { statusReason: { text: statusReason } } : {}) },
      requestId,
    );
    await this.options.redis.del(this.options.keys.lease(leaseId));
    return updated.resource;
  }

  /** Back in the queue, in front of tasks of the same urgency. */
  async release(teamId: string, leaseId: string): Promise<Task> {
    const record = await this.heldLease(teamId, leaseId);
    const job = await this.options.queues.job(teamId, record.taskId);
    await job?.moveToWait(leaseId);
    await this.options.redis.del(this.options.keys.lease(leaseId), this.options.keys.leaseOfTask(record.taskId));
    return this.returnToQueue(record.taskId);
  }

  async extend(teamId: string, leaseId: string): Promise<Lease> {
    const record = await this.heldLease(teamId, leaseId);
    const job = await this.options.queues.job(teamId, record.taskId);
    const extended = job ? await job.extendLock(leaseId, this.options.queues.leaseMs) : 0;
    if (!extended) throw leaseExpired();
    const expiresAt = Date.now() + this.options.queues.leaseMs;
    const ttl = Math.ceil(this.options.queues.leaseMs / 1000) + LEASE_RECORD_GRACE_SECONDS;
    await this.options.redis
      .multi()
      .set(this.options.keys.lease(leaseId), JSON.stringify({ ...record, expiresAt } satisfies LeaseRecord), 'EX', ttl)
      .expire(this.options.keys.leaseOfTask(record.taskId), ttl)
      .exec();
    return { id: leaseId, expiresAt: new Date(expiresAt).toISOString() };
  }

  /** BullMQ found an expired lease and put the job back: the Task follows (its change wakes the claimers). */
  async leaseExpired(teamId: string, taskId: string): Promise<void> {
    const pointer = this.options.keys.leaseOfTask(taskId);
    const expiredLease = await this.options.redis.get(pointer);
    const leasedAgain = async () => (await (await this.options.queues.job(teamId, taskId))?.getState()) === 'active';
    if ((await leasedAgain()) || (expiredLease && !(await this.options.redis.eval(DELETE_IF_UNCHANGED_SCRIPT, 1, pointer, expiredLease)))) {
      this.options.log.info({ taskId, team: teamId }, 'an old lease expired; the task is leased again');
      return;
    }
    const returned = await this.returnToQueue(taskId);
    // A claim between the check and the write above took the Task again: it stays received.
    if (returned?.status === 'requested' && (await leasedAgain())) await this.options.tasks.changeStatus(taskId, 'queue', { status: 'received' });
    this.options.log.info({ taskId, team: teamId }, 'lease expired; task back in the queue');
  }

  private async returnToQueue(taskId: string): Promise<Task> {
    const current = await this.options.store.read<Task>('Task', taskId);
    if (current?.resource.status !== 'received') return current?.resource as Task;
    return (await this.options.tasks.changeStatus(taskId, 'queue', { status: 'requested' })).resource;
  }

  async counts(teamId: string): Promise<{ waiting: number; leased: number; overdue: number }> {
    const [counts, overdue] = await Promise.all([this.options.queues.counts(teamId), this.options.timers.overdue(teamId)]);
    return { ...counts, overdue };
  }

  /** The queue's reaction to a Task change: it leaves the queue when it is no longer waiting, and claimers wake when it is. */
  async followChange({ task, from }: TaskChange): Promise<void> {
    const team = teamOfTask(task);
    if (QUEUED_STATUSES.includes(from) && !QUEUED_STATUSES.includes(task.status)) await this.leaveQueue(team, task.id!);
    if (from !== task.status && task.status === 'requested') await this.options.signal.publish(team);
  }

  /**
   * After Redis lost the queues: every Task still waiting goes back on its team's queue, oldest
   * first, and every Task whose lease was lost with Redis goes back to `requested` and on the queue.
   */
  async rebuild(): Promise<number> {
    let restored = 0;
    for (const teamId of this.options.queues.teams()) {
      let cursor: Cursor | undefined;
      do {
        // In the team's tenancy: its own index range, whatever the other teams hold.
        const page = await this.options.store.search({
          type: 'Task',
          tenant: teamTag(teamId),
          filters: [QUEUED_STATUSES.map((status): [string, string] => ['status', status])],
          count: 100,
          order: 'asc',
          cursor,
        });
        let added = 0;
        for (const task of page.resources as Task[]) {
          if (teamOfTask(task) !== teamId) continue;
          if (task.status === 'received' && !(await this.options.redis.exists(this.options.keys.leaseOfTask(task.id!)))) {
            await this.options.tasks.changeStatus(task.id!, 'queue', { status: 'requested' });
          }
          await this.options.queues.add({ taskId: task.id!, teamId, urgent: task.priority === 'urgent' });
          added += 1;
        }
        if (added > 0) await this.options.signal.publish(teamId);
        restored += added;
        cursor = page.next;
      } while (cursor);
    }
    return restored;
  }

  /** Erasure of a referral: nothing of its Task stays in the queue, whatever state its job is in. */
  async erase(teamId: string, taskId: string): Promise<void> {
    await this.leaveQueue(teamId, taskId);
    if (this.options.queues.has(teamId)) await (await this.options.queues.job(teamId, taskId))?.remove().catch(() => undefined);
  }

  /**
   * Takes a Task off its queue: a waiting job is removed, a leased one completed with its lease.
   * A job whose lease already ran out comes back by itself and is then skipped by the claim.
   */
  async leaveQueue(teamId: string, taskId: string): Promise<void> {
    if (!this.options.queues.has(teamId)) return;
    const job = await this.options.queues.job(teamId, taskId);
    if (!job) return;
    const state = await job.getState();
    const leaseId = await this.options.redis.get(this.options.keys.leaseOfTask(taskId));
    if (state === 'active' && leaseId) {
      await job.moveToCompleted({ closed: true }, leaseId, false).catch(() => undefined);
    } else if (state === 'waiting' || state === 'prioritized' || state === 'delayed') {
      await job.remove().catch(() => undefined);
    }
    // The lease record itself stays until it expires, so the coach system holding it learns why.
    if (leaseId) await this.options.redis.del(this.options.keys.leaseOfTask(taskId));
  }
}

/** The reason itself stays in Task.statusReason: it is free text and may not appear in an error. */
const cancelledByReferrer = () =>
  new FhirError(409, { code: 'conflict', expression: 'Task.status', diagnostics: 'The referrer cancelled this referral; its reason is in Task.statusReason' });
