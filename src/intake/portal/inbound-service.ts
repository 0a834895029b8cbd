import { createHash, randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { DocumentReference, ServiceRequest } from 'fhir/r4.js';
import type { Redis } from 'ioredis';
import { portalTag, practiceTag } from '../../auth/caller.js';
import { FhirError } from '../../fhir/operation-outcome.js';
import { NAMING_SYSTEM, PROFILE } from '../../fhir/profiles.js';
import type { Outbox } from '../../outbox/outbox.js';
import type { Keys } from '../../store/keys.js';
import type { ResourceStore } from '../../store/resource-store.js';
import type { TaskService } from '../../tasks/task-service.js';
import { cancelReferral } from '../cancel-referral.js';
import { findReferral, submitReferral, type IntakeDependencies } from '../submit-referral.js';
import { documentAttachments, documentToReferral, type DocumentEnvelope } from './document-to-referral.js';

export type MessageStatus = 'received' | 'processed' | 'failed';

export interface InboundMessage {
  id: string;
  portal: string;
  documentId: string;
  zdNumber: string;
  kind: string;
  status: MessageStatus;
  receivedAt: string;
  processedAt?: string;
  /** Why conversion failed: element paths and rules, never patient data. */
  reason?: string;
  serviceRequest?: string;
  task?: string;
}

/** A conversion that may succeed later (the referral of a letter has not arrived yet). */
export class NotYet extends Error {}

const FIELDS = ['portal', 'documentId', 'zdNumber', 'kind', 'status', 'receivedAt', 'processedAt', 'reason', 'serviceRequest', 'task'] as const;

/**
 * Portal documents (contract §5.2): stored durably as received, before anything else happens;
 * converted afterwards; the outcome kept per message for the portal and the operator.
 */
export class InboundService {
  constructor(
    private readonly intake: IntakeDependencies,
    private readonly store: ResourceStore,
    private readonly tasks: TaskService,
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly outbox: Outbox,
    private readonly log: FastifyBaseLogger,
  ) {}

  /** Stores the raw document with its conversion queued (one atomic step); a duplicate returns the first. */
  async receive(portal: string, raw: string, envelope: DocumentEnvelope): Promise<{ id: string; created: boolean }> {
    const id = randomUUID();
    const fields: Record<string, string> = { portal, raw, ...envelope, status: 'received', receivedAt: new Date().toISOString() };
    const result = await this.store.commit({
      writes: [],
      guard: { key: this.keys.inboundDocument(portal, envelope.documentId), value: id },
      ops: [['HSET', this.keys.inboundMessage(id), ...Object.entries(fields).flat()], this.outbox.op('inbound', { messageId: id })],
    });
    if (result.outcome === 'guarded') return { id: result.existing, created: false };
    await this.outbox.dispatch('inbound', { messageId: id }).catch(() => undefined);
    this.log.info({ messageId: id, portal, kind: envelope.kind }, 'portal document received');
    return { id, created: true };
  }

  async message(id: string): Promise<InboundMessage | undefined> {
    const values = await this.redis.hmget(this.keys.inboundMessage(id), ...FIELDS);
    if (!values[0]) return undefined;
    const entries = FIELDS.map((field, index) => [field, values[index]] as const).filter(([, value]) => value);
    // An empty reason is a cleared one (replay): absent from the answer.
    return { id, ...Object.fromEntries(entries) } as InboundMessage;
  }

  /** The referral a letter belongs to never came: the message fails, and can be replayed later. */
  async giveUp(id: string, reason: string): Promise<void> {
    await this.settle(id, { status: 'failed', reason });
  }

  private async settle(id: string, fields: Partial<InboundMessage>): Promise<void> {
    await this.redis.hset(this.keys.inboundMessage(id), { ...fields, processedAt: new Date().toISOString() });
  }

  /**
   * Converts a stored document. Idempotent: a processed message is left alone, and each step
   * (the referral, the attachments, the cancellation) happens once however often this runs.
   */
  async convert(id: string): Promise<void> {
    const [raw, status] = await this.redis.hmget(this.keys.inboundMessage(id), 'raw', 'status');
    const message = await this.message(id);
    if (!raw || !message || status === 'processed') return;
    const party = portalTag(message.portal);
    const envelope: DocumentEnvelope = { documentId: message.documentId, zdNumber: message.zdNumber, kind: message.kind as DocumentEnvelope['kind'], fhirVersion: 'R4' };
    const document = JSON.parse(raw) as unknown;
    envelope.fhirVersion = (document as { entry?: Array<{ resource?: { resourceType?: string } }> }).entry?.some((entry) => entry.resource?.resourceType === 'ReferralRequest') ? 'STU3' : 'R4';
    try {
      if (envelope.kind === 'referral') {
        const referral = documentToReferral(document, envelope);
        const agb = referral.requester.practice.agb;
        const submitted = await submitReferral(this.intake, referral, {
          party,
          identifierSystem: NAMING_SYSTEM.portalReferral(message.portal),
          tenants: [party, practiceTag(agb)],
        });
        await this.settle(id, { status: 'processed', serviceRequest: submitted.serviceRequestId, task: submitted.taskId });
        return;
      }
      const ids = await findReferral(this.intake, party, envelope.zdNumber);
      if (!ids) throw new NotYet('No referral with this transaction number has been processed yet');
      if (envelope.kind === 'cancellation') {
        await cancelReferral(this.store, this.tasks, ids.task, 'Geannuleerd via het verwijsportaal', 'referrer');
      } else {
        await this.attach(id, ids.serviceRequest, documentAttachments(document), envelope);
      }
      await this.settle(id, { status: 'processed', serviceRequest: ids.serviceRequest, task: ids.task });
    } catch (error) {
      if (error instanceof NotYet) throw error;
      const reason = error instanceof FhirError ? error.issues.map((issue) => `${issue.expression ?? 'document'}: ${issue.diagnostics}`).join('; ') : 'Internal error while converting';
      await this.settle(id, { status: 'failed', reason });
      this.log.warn({ messageId: id, kind: envelope.kind, failure: error instanceof FhirError ? error.issues.map((issue) => issue.expression) : (error as Error).name }, 'portal document failed');
      if (!(error instanceof FhirError)) throw error;
    }
  }

  /** The letter or supplement, kept as DocumentReferences the team can read, linked from the ServiceRequest. */
  private async attach(messageId: string, serviceRequestId: string, attachments: ReturnType<typeof documentAttachments>, envelope: DocumentEnvelope): Promise<void> {
    const request = await this.store.read<ServiceRequest>('ServiceRequest', serviceRequestId);
    if (!request) throw new NotYet('The referral is not stored');
    const now = new Date().toISOString();
    const documents: DocumentReference[] = attachments.map((attachment) => ({
      resourceType: 'DocumentReference',
      id: randomUUID(),
      meta: { profile: [PROFILE.DocumentReference] },
      status: 'current',
      type: { text: envelope.kind === 'letter' ? 'Verwijsbrief' : 'Aanvulling' },
      subject: request.resource.subject!,
      date: now,
      content: [{ attachment: { ...attachment, hash: createHash('sha1').update(Buffer.from(attachment.data, 'base64')).digest('base64'), creation: now } }],
      context: { related: [{ reference: `ServiceRequest/${serviceRequestId}` }] },
    }));
    const updated: ServiceRequest = {
      ...request.resource,
      supportingInfo: [...(request.resource.supportingInfo ?? []), ...documents.map((document) => ({ reference: `DocumentReference/${document.id}` }))],
    };
    const result = await this.store.commit({
      writes: [...documents.map((resource) => ({ resource, acl: request.acl })), { resource: updated, previous: request, acl: request.acl }],
      guard: { key: this.keys.inboundAttached(messageId), value: now },
    });
    if (result.outcome === 'conflict') return this.attach(messageId, serviceRequestId, attachments, envelope);
  }

  /** Every stored message that matches (a scan: for operators' lists and retention, not for requests). */
  async find(matches: (message: InboundMessage) => boolean): Promise<InboundMessage[]> {
    const messages: InboundMessage[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', this.keys.inboundMessage('*'), 'COUNT', 500);
      cursor = next;
      for (const key of keys) {
        const message = await this.message(key.slice(this.keys.inboundMessage('').length));
        if (message && matches(message)) messages.push(message);
      }
    } while (cursor !== '0');
    return messages.sort((a, b) => a.receivedAt.localeCompare(b.receivedAt));
  }

  failed(portal?: string): Promise<InboundMessage[]> {
    return this.find((message) => message.status === 'failed' && (!portal || message.portal === portal));
  }

  /** The Redis keys of a referral's stored documents and their guards, for erasure. */
  async documentKeys(portal: string, zdNumber: string): Promise<string[]> {
    const messages = await this.find((message) => message.portal === portal && message.zdNumber === zdNumber);
    return messages.flatMap((message) => [
      this.keys.inboundMessage(message.id),
      this.keys.inboundDocument(portal, message.documentId),
      this.keys.inboundAttached(message.id),
    ]);
  }

  /** Converts a failed message again, after its cause was fixed. */
  async replay(id: string): Promise<void> {
    const message = await this.message(id);
    if (message?.status !== 'failed') throw new FhirError(404, { code: 'not-found', diagnostics: 'No failed message with this id' });
    const conversion = { messageId: id, replay: new Date().toISOString() };
    await this.store.commit({
      writes: [],
      ops: [['HSET', this.keys.inboundMessage(id), 'status', 'received', 'reason', ''], this.outbox.op('inbound', conversion)],
    });
    await this.outbox.dispatch('inbound', conversion);
  }
}
