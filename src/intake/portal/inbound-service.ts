import { createHash, randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { DocumentReference, ServiceRequest } from 'fhir/r4.js';
import { portalTag, practiceTag } from '../../auth/caller.js';
import { FhirError } from '../../fhir/operation-outcome.js';
import { NAMING_SYSTEM, PROFILE } from '../../fhir/profiles.js';
import type { Outbox } from '../../outbox/outbox.js';
import { transaction, type Db } from '../../store/postgres.js';
import { runEffects, type Effect, type ResourceStore } from '../../store/resource-store.js';
import type { TaskService } from '../../tasks/task-service.js';
import { cancelReferral } from '../cancel-referral.js';
import { findReferral, submitReferral, type IntakeDependencies } from '../submit-referral.js';
import { documentAttachments, documentToReferral, fhirVersionOf, type DocumentEnvelope } from './document-to-referral.js';

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

interface MessageRow {
  id: string;
  portal: string;
  document_id: string;
  zd_number: string;
  kind: string;
  status: MessageStatus;
  received_at: Date;
  processed_at: Date | null;
  reason: string | null;
  service_request: string | null;
  task: string | null;
}

const COLUMNS = 'id, portal, document_id, zd_number, kind, status, received_at, processed_at, reason, service_request, task';

const messageOf = (row: MessageRow): InboundMessage => ({
  id: row.id,
  portal: row.portal,
  documentId: row.document_id,
  zdNumber: row.zd_number,
  kind: row.kind,
  status: row.status,
  receivedAt: row.received_at.toISOString(),
  ...(row.processed_at ? { processedAt: row.processed_at.toISOString() } : {}),
  ...(row.reason ? { reason: row.reason } : {}),
  ...(row.service_request ? { serviceRequest: row.service_request } : {}),
  ...(row.task ? { task: row.task } : {}),
});

export interface InboundServiceOptions {
  intake: IntakeDependencies;
  store: ResourceStore;
  tasks: TaskService;
  db: Db;
  outbox: Outbox;
  log: FastifyBaseLogger;
}

/**
 * Portal documents (contract §5.2): stored durably as received, before anything else happens;
 * converted afterwards; the outcome kept per message for the portal and the operator.
 */
export class InboundService {
  constructor(private readonly options: InboundServiceOptions) {}

  /** Stores the raw document with its conversion queued (one transaction); a duplicate returns the first. */
  async receive(portal: string, raw: string, envelope: DocumentEnvelope): Promise<{ id: string; created: boolean }> {
    const conversion = this.options.outbox.op('inbound', { messageId: randomUUID() });
    const id = conversion.body.messageId;
    const existing = await transaction(this.options.db, async (sql) => {
      const inserted = await sql.query(
        `INSERT INTO inbound_message (id, portal, document_id, zd_number, kind, status, raw) VALUES ($1, $2, $3, $4, $5, 'received', $6)
         ON CONFLICT (portal, document_id) DO NOTHING`,
        [id, portal, envelope.documentId, envelope.zdNumber, envelope.kind, raw],
      );
      if (inserted.rowCount === 0) {
        const { rows } = await sql.query<{ id: string }>('SELECT id FROM inbound_message WHERE portal = $1 AND document_id = $2', [portal, envelope.documentId]);
        return rows[0]!.id;
      }
      await runEffects(sql, [conversion.write]);
      return undefined;
    });
    if (existing) return { id: existing, created: false };
    await this.options.outbox.dispatch(conversion).catch(() => undefined);
    this.options.log.info({ messageId: id, portal, kind: envelope.kind }, 'portal document received');
    return { id, created: true };
  }

  /** Documents not (yet) turned into a referral, by status: `received` (waiting) and `failed`. */
  async unprocessed(): Promise<Array<{ status: string; count: number }>> {
    const { rows } = await this.options.db.query<{ status: string; count: number }>(`SELECT status, count(*)::int AS count FROM inbound_message WHERE status <> 'processed' GROUP BY status`);
    return rows;
  }

  async message(id: string): Promise<InboundMessage | undefined> {
    if (!/^[0-9a-f-]{36}$/.test(id)) return undefined;
    const { rows } = await this.options.db.query<MessageRow>(`SELECT ${COLUMNS} FROM inbound_message WHERE id = $1`, [id]);
    return rows[0] ? messageOf(rows[0]) : undefined;
  }

  /** The referral a letter belongs to never came: the message fails, and can be replayed later. */
  async giveUp(id: string, reason: string): Promise<void> {
    await this.settle(id, { status: 'failed', reason });
  }

  private async settle(id: string, outcome: { status: MessageStatus; reason?: string; serviceRequest?: string; task?: string }): Promise<void> {
    await this.options.db.query(
      'UPDATE inbound_message SET status = $2, reason = $3, service_request = coalesce($4, service_request), task = coalesce($5, task), processed_at = now() WHERE id = $1',
      [id, outcome.status, outcome.reason ?? null, outcome.serviceRequest ?? null, outcome.task ?? null],
    );
  }

  /**
   * Converts a stored document. Idempotent: a processed message is left alone, and each step
   * (the referral, the attachments, the cancellation) happens once however often this runs.
   */
  async convert(id: string): Promise<void> {
    const { rows } = await this.options.db.query<MessageRow & { raw: string }>(`SELECT ${COLUMNS}, raw FROM inbound_message WHERE id = $1`, [id]);
    const raw = rows[0]?.raw;
    const message = rows[0] && messageOf(rows[0]);
    if (!raw || !message || message.status === 'processed') return;
    const party = portalTag(message.portal);
    const document = JSON.parse(raw) as unknown;
    // What was read from it on receipt, and its FHIR version as readEnvelope tells it.
    const envelope: DocumentEnvelope = { documentId: message.documentId, zdNumber: message.zdNumber, kind: message.kind as DocumentEnvelope['kind'], fhirVersion: fhirVersionOf(document) };
    try {
      if (envelope.kind === 'referral') {
        const { referral, locate } = documentToReferral(document, envelope);
        const agb = referral.requester.practice.agb;
        const submitted = await submitReferral(this.options.intake, referral, {
          name: 'portal',
          party,
          identifierSystem: NAMING_SYSTEM.portalReferral(message.portal),
          tenants: [party, practiceTag(agb)],
          locate,
        });
        await this.settle(id, { status: 'processed', serviceRequest: submitted.serviceRequestId, task: submitted.taskId });
        return;
      }
      const ids = await findReferral(this.options.intake, party, envelope.zdNumber);
      if (!ids) throw new NotYet('No referral with this transaction number has been processed yet');
      if (envelope.kind === 'cancellation') {
        await cancelReferral(this.options.store, this.options.tasks, ids.task, 'Geannuleerd via het verwijsportaal', 'referrer');
      } else {
        await this.attach(id, ids.serviceRequest, documentAttachments(document), envelope);
      }
      await this.settle(id, { status: 'processed', serviceRequest: ids.serviceRequest, task: ids.task });
    } catch (error) {
      if (error instanceof NotYet) throw error;
      const reason = error instanceof FhirError ? error.issues.map((issue) => `${issue.expression ?? 'document'}: ${issue.diagnostics}`).join('; ') : 'Internal error while converting';
      await this.settle(id, { status: 'failed', reason });
      if (envelope.kind === 'referral' && error instanceof FhirError) this.options.intake.countReferral('portal', 'refused');
      this.options.log.warn({ messageId: id, kind: envelope.kind, failure: error instanceof FhirError ? error.issues.map((issue) => issue.expression) : (error as Error).name }, 'portal document failed');
      if (!(error instanceof FhirError)) throw error;
    }
  }

  /** The letter or supplement, kept as DocumentReferences the team can read, linked from the ServiceRequest. */
  private async attach(messageId: string, serviceRequestId: string, attachments: ReturnType<typeof documentAttachments>, envelope: DocumentEnvelope): Promise<void> {
    const request = await this.options.store.read<ServiceRequest>('ServiceRequest', serviceRequestId);
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
    const result = await this.options.store.commit({
      writes: [...documents.map((resource) => ({ resource, acl: request.acl })), { resource: updated, previous: request, acl: request.acl }],
      guard: { scope: 'inbound-attached', key: messageId, value: now, owner: `ServiceRequest/${serviceRequestId}` },
    });
    if (result.outcome === 'conflict') return this.attach(messageId, serviceRequestId, attachments, envelope);
  }

  /** Failed messages, oldest first, for the operator. */
  async failed(portal?: string): Promise<InboundMessage[]> {
    const { rows } = await this.options.db.query<MessageRow>(
      `SELECT ${COLUMNS} FROM inbound_message WHERE status = 'failed' AND ($1::text IS NULL OR portal = $1) ORDER BY received_at LIMIT 1000`,
      [portal ?? null],
    );
    return rows.map(messageOf);
  }

  /**
   * Erasure of a referral: the documents that made it or attached to it, and — for a referral this
   * portal itself submitted — the failed ones under its transaction number.
   */
  erase(serviceRequestId: string, submittedBy?: { portal: string; zdNumber: string }): Effect {
    return {
      text: 'DELETE FROM inbound_message WHERE service_request = $1 OR (portal = $2 AND zd_number = $3)',
      values: [serviceRequestId, submittedBy?.portal ?? null, submittedBy?.zdNumber ?? null],
    };
  }

  /** Converts a failed message again, after its cause was fixed. */
  async replay(id: string): Promise<void> {
    const conversion = this.options.outbox.op('inbound', { messageId: id, replay: new Date().toISOString() });
    const replayed = await transaction(this.options.db, async (sql) => {
      const updated = await sql.query(`UPDATE inbound_message SET status = 'received', reason = NULL WHERE id = $1 AND status = 'failed'`, [
        /^[0-9a-f-]{36}$/.test(id) ? id : '00000000-0000-0000-0000-000000000000',
      ]);
      if (updated.rowCount === 0) return false;
      await runEffects(sql, [conversion.write]);
      return true;
    });
    if (!replayed) throw new FhirError(404, { code: 'not-found', diagnostics: 'No failed message with this id' });
    await this.options.outbox.dispatch(conversion);
  }
}
