import { randomUUID } from 'node:crypto';
import type { Communication, Patient, ServiceRequest, Task } from 'fhir/r4.js';
import type { FastifyBaseLogger } from 'fastify';
import type { Directory } from '../directory/directory.js';
import type { Outbox } from '../outbox/outbox.js';
import type { ResourceStore } from '../store/resource-store.js';
import { teamOfTask } from '../tasks/task-service.js';
import { conflict } from '../fhir/operation-outcome.js';
import { ownIdentifier } from './delivery/gp-communication.js';
import { feedbackCommunication, type FeedbackKind } from './feedback-letter.js';

declare module '../outbox/outbox.js' {
  interface OutboxMessages {
    /** Write the feedback Communication for a Task event. */
    feedback: { taskId: string; kind: FeedbackKind; requestId?: string };
  }
}

/** The idempotency record of a Communication: its id, and for a client's report a hash of what it said. */
interface GuardRecord {
  id: string;
  hash?: string;
}

const idOf = (reference: string | undefined) => reference?.split('/')[1] ?? '';

/** The practice that referred, from the tenancy tags of its referral. */
export const practiceOf = (acl: string[]) => acl.find((tag) => tag.startsWith('gp:'))?.slice(3);

export interface FeedbackServiceOptions {
  store: ResourceStore;
  directory: Directory;
  outbox: Outbox;
  log: FastifyBaseLogger;
}

/**
 * Writes Communications to the GP and hands them to delivery. Every Communication has a business
 * identifier guarded in the same commit, so a retried or concurrent write never makes a second.
 */
export class FeedbackService {
  constructor(private readonly options: FeedbackServiceOptions) {}

  /** The feedback letter for a moment in a Task's life, once. */
  async writeFeedback(taskId: string, kind: FeedbackKind, requestId?: string): Promise<void> {
    const task = await this.options.store.read<Task>('Task', taskId);
    if (!task) return;
    const [serviceRequest, patient] = await Promise.all([
      this.options.store.read<ServiceRequest>('ServiceRequest', idOf(task.resource.focus?.reference)),
      this.options.store.read<Patient>('Patient', idOf(task.resource.for?.reference)),
    ]);
    const team = this.options.directory.team(teamOfTask(task.resource));
    if (!serviceRequest || !patient || !team) {
      this.options.log.warn({ taskId, kind }, 'feedback skipped: referral incomplete');
      return;
    }
    const communication = feedbackCommunication({
      kind,
      id: randomUUID(),
      task: task.resource,
      serviceRequest: serviceRequest.resource,
      patient: patient.resource,
      team,
      sentAt: new Date(),
    });
    await this.write(communication, task.acl, requestId);
    this.options.log.info({ taskId, kind, communicationId: communication.id }, 'feedback written');
  }

  /**
   * Stores a Communication and queues its delivery, once per key (by default its own identifier).
   * With a `hash` of what the sender said, the same key with other content is refused: a
   * correction is never answered with the old text.
   */
  async write(
    communication: Communication,
    acl: string[],
    requestId?: string,
    idempotency: { key?: string; hash?: string } = {},
  ): Promise<{ created: boolean; id: string }> {
    const identifier = ownIdentifier(communication);
    const practiceAgb = practiceOf(acl);
    const delivery = practiceAgb && this.options.directory.practice(practiceAgb)?.fhirEndpoint
      ? this.options.outbox.op('delivery', { communicationId: communication.id!, practiceAgb, ...(requestId ? { requestId } : {}) })
      : undefined;
    const basedOn = communication.basedOn?.[0]?.reference;
    const record: GuardRecord = { id: communication.id!, ...(idempotency.hash ? { hash: idempotency.hash } : {}) };
    const result = await this.options.store.commit({
      writes: [{ resource: communication, acl }],
      guard: { scope: 'communication', key: idempotency.key ?? `${identifier?.system}|${identifier?.value}`, value: record, ...(basedOn ? { owner: basedOn } : {}) },
      effects: delivery ? [delivery.write] : [],
    });
    if (result.outcome === 'guarded') {
      // Records written before content hashes were kept hold the id alone.
      const existing: GuardRecord = typeof result.existing === 'string' ? { id: result.existing } : (result.existing as GuardRecord);
      if (idempotency.hash && existing.hash !== idempotency.hash) {
        throw conflict('This identifier was already used for a Communication with different content', 'Communication.identifier[0]');
      }
      return { created: false, id: existing.id };
    }
    if (delivery) {
      // Delivery has retries of its own; should handing it on fail now, the outbox relay does it.
      await this.options.outbox.dispatch(delivery).catch(() => undefined);
    }
    return { created: true, id: communication.id! };
  }
}
