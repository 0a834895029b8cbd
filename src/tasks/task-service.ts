import type { CodeableConcept, Task } from 'fhir/r4.js';
import type { FastifyBaseLogger } from 'fastify';
import { canonicalJson } from '../canonical-json.js';
import { notFound, preconditionFailed } from '../fhir/operation-outcome.js';
import type { ResourceStore, Stored } from '../store/resource-store.js';
import type { Outbox, OutboxMessage } from '../outbox/outbox.js';
import type { Party } from './state-machine.js';
import { nextTaskVersion } from './task-update.js';

export const teamOfTask = (task: Task) => task.owner?.identifier?.value ?? '';

export interface StatusChange {
  status: Task['status'];
  statusReason?: CodeableConcept;
}

/** A Task changed: its current version, and the status it moved from and to. */
export interface TaskChange {
  task: Task;
  from: Task['status'];
  to: Task['status'];
}

/** What an owner does when a Task changes (the queue lets go, the timers stop, the ServiceRequest follows). */
export type TaskChangeListener = (change: TaskChange) => Promise<void>;

/**
 * Work an owner commits with a change of status, as an outbox message (feedback: the letter the new
 * status calls for), or nothing.
 */
export type StatusFollowUp = (change: { taskId: string; from: Task['status']; to: Task['status']; requestId?: string }) => OutboxMessage | undefined;

export interface TaskServiceOptions {
  store: ResourceStore;
  outbox: Outbox;
  log: FastifyBaseLogger;
}

/**
 * Every change of a Task goes through here, whichever door it came in by (queue lease, FHIR PUT or
 * PATCH, cancellation): the state machine is checked on the freshest version, and one `task-changed`
 * message is committed with the Task. Each domain reacts to it next to its own code (`onChange`).
 */
export class TaskService {
  private readonly listeners: TaskChangeListener[] = [];
  private readonly followUps: StatusFollowUp[] = [];

  constructor(private readonly options: TaskServiceOptions) {}

  onChange(listener: TaskChangeListener): void {
    this.listeners.push(listener);
  }

  /** Registers work to commit with every change of status (the owner's outbox message), handed on after the commit. */
  onStatusChange(followUp: StatusFollowUp): void {
    this.followUps.push(followUp);
  }

  /**
   * Applies `propose` to the current Task (re-run on a concurrent write). What the change leads to,
   * and the follow-ups a new status calls for, are committed with the Task as outbox messages, so a
   * crash cannot lose them; they are handed on before the answer.
   */
  async update(taskId: string, party: Party, propose: (current: Task) => Task, expectVersion?: string, requestId?: string): Promise<Stored<Task>> {
    const now = new Date();
    let changed: OutboxMessage<'task-changed'> | undefined;
    let followUps: OutboxMessage[] = [];
    const result = await this.options.store.update<Task>(
      'Task',
      taskId,
      (current) => {
        if (expectVersion !== undefined && current.resource.meta?.versionId !== expectVersion) throw preconditionFailed('Task');
        const next = nextTaskVersion(current.resource, propose(current.resource), party, now);
        changed = this.options.outbox.op('task-changed', { taskId, from: current.resource.status, to: next.status });
        const change = { taskId, from: current.resource.status, to: next.status, ...(requestId ? { requestId } : {}) };
        followUps = next.status === current.resource.status ? [] : this.followUps.flatMap((followUp) => followUp(change) ?? []);
        return unchanged(current.resource, next) ? undefined : next;
      },
      { effects: () => [changed!.write, ...followUps.map((message) => message.write)] },
    );
    if (!result) throw notFound(`Task/${taskId}`);
    if (result.before !== result.after) {
      await this.options.outbox.dispatch(changed!);
      // Should a follow-up fail now (a letter not yet written), the relay hands it on shortly after.
      for (const message of followUps) {
        await this.options.outbox.dispatch(message).catch((error: Error) => this.options.log.warn({ err: { type: error.name }, taskId, to: message.to }, 'follow-up deferred'));
      }
      this.options.log.info({ taskId, from: changed!.body.from, to: changed!.body.to, party }, 'task changed');
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
   * The `task-changed` message, from the outbox: every listener runs on the Task as it is now.
   * Listeners are idempotent, so a relay after a crash (when the Task may have moved on) does no harm.
   */
  async followChange({ taskId, from, to }: { taskId: string; from: string; to: string }): Promise<void> {
    const task = (await this.options.store.read<Task>('Task', taskId))?.resource;
    if (!task) return;
    for (const listener of this.listeners) await listener({ task, from: from as Task['status'], to: to as Task['status'] });
  }
}

/** Nothing but server-maintained elements differs: no new version is written. */
function unchanged(current: Task, next: Task): boolean {
  const content = ({ meta: _meta, lastModified: _lastModified, ...rest }: Task) => canonicalJson(rest);
  return content(current) === content(next);
}
