import type { Secrets } from '../../config.js';
import type { FastifyBaseLogger } from 'fastify';
import type { Communication, Organization, Patient, Practitioner, PractitionerRole, ServiceRequest, Task } from 'fhir/r4.js';
import { UnrecoverableError, type Job } from 'bullmq';
import { Counter, Histogram, type Registry } from 'prom-client';
import { PartnerCallQueue, type PartnerCallPolicy } from './partner-calls.js';
import type { Directory } from '../../directory/directory.js';
import { notFound } from '../../fhir/operation-outcome.js';
import type { Db } from '../../store/postgres.js';
import type { ResourceStore } from '../../store/resource-store.js';
import { teamOfTask } from '../../tasks/task-service.js';
import { DeliveryFailure, FhirEndpointClient } from './fhir-endpoint-client.js';
import { gpCommunication, type ReferralParties } from './gp-communication.js';

/** One delivery of a Communication to a practice: ids only, never patient data. */
export interface DeliveryEntry {
  communicationId: string;
  practiceAgb: string;
  requestId?: string;
}

export interface DeliveryOptions extends PartnerCallPolicy {
  redisUrl: string;
  /** The GP endpoints' bearer tokens, by the variable the directory names. */
  secrets: Secrets;
  prefix: string;
  directory: Directory;
  store: ResourceStore;
  db: Db;
  log: FastifyBaseLogger;
  registry: Registry;
  /** Where the resources referred to live, for GP systems that accept absolute references. */
  publicBaseUrl: string;
}

export interface ParkedDelivery {
  communicationId: string;
  practiceAgb: string;
  attempts: number;
  reason: string;
  parkedAt: string;
}

/** What a job carries: which delivery, and which round of it (a re-delivery starts a new round). */
interface DeliveryJob {
  communicationId: string;
  round: number;
}

const QUEUE = 'feedback-delivery';

/** The first round keeps the Communication id; `#` cannot occur in a FHIR id, so later rounds never collide. */
const jobId = (communicationId: string, round: number) => (round === 0 ? communicationId : `${communicationId}#${round}`);

/**
 * Delivery of feedback to GP systems that have a FHIR endpoint (contract §7). The delivery record
 * lives in PostgreSQL (table `delivery`: pending, delivered or parked); a BullMQ job carries out its
 * current round and can be rebuilt from the pending rows, so Redis holds nothing that would be lost
 * with it. Retried with capped exponential backoff and jitter on timeouts, network errors, 429 and
 * 5xx; any other answer, or the last attempt, parks it, where an operator can see it and deliver it
 * again. A job whose row has moved on (delivered, parked, a later round) does nothing.
 */
export class DeliveryQueue {
  private readonly calls: PartnerCallQueue<DeliveryJob>;
  private readonly clients = new Map<string, FhirEndpointClient>();
  private readonly outcomes: Counter<'outcome'>;
  private readonly latency: Histogram;

  constructor(private readonly options: DeliveryOptions) {
    this.calls = new PartnerCallQueue<DeliveryJob>(QUEUE, options, (job) => this.attempt(job));
    this.outcomes = new Counter({ name: 'wor_feedback_deliveries_total', help: 'Feedback delivery attempts by outcome', labelNames: ['outcome'], registers: [options.registry] });
    this.latency = new Histogram({
      name: 'wor_feedback_delivery_seconds',
      help: 'From queueing a delivery (or re-delivering it) to its delivery at the GP system',
      buckets: [0.05, 0.1, 0.5, 1, 5, 30, 60, 300, 1800, 3600],
      registers: [options.registry],
    });
  }

  /** Deliveries parked as failed, waiting for an operator. */
  async parkedCount(): Promise<number> {
    const { rows } = await this.options.db.query<{ parked: number }>(`SELECT count(*)::int AS parked FROM delivery WHERE status = 'parked'`);
    return rows[0]!.parked;
  }

  async start(): Promise<void> {
    await this.calls.start((error) => this.options.log.error({ err: { type: error.name } }, 'feedback delivery worker stopped'));
  }

  /** Records the delivery as pending (once: adding twice delivers once) and queues its job. */
  async add(entry: DeliveryEntry): Promise<void> {
    const { db } = this.options;
    await db.query('INSERT INTO delivery (communication_id, practice_agb, request_id) VALUES ($1, $2, $3) ON CONFLICT (communication_id) DO NOTHING', [
      entry.communicationId,
      entry.practiceAgb,
      entry.requestId ?? null,
    ]);
    // Read again rather than trust the insert: a repeat after a failed queueing must still queue.
    const { rows } = await db.query<{ round: number }>(`SELECT round FROM delivery WHERE communication_id = $1 AND status = 'pending'`, [entry.communicationId]);
    if (rows[0]) await this.enqueue(entry.communicationId, rows[0].round);
  }

  /**
   * Queues a job for every pending delivery, for when Redis lost its jobs (flushed, restarted empty)
   * and at start-up. A job that still exists keeps its id and is not added twice; returns how many
   * deliveries are pending.
   */
  async rebuild(): Promise<number> {
    let after = '';
    let pending = 0;
    for (;;) {
      const { rows } = await this.options.db.query<{ communication_id: string; round: number }>(
        `SELECT communication_id, round FROM delivery WHERE status = 'pending' AND communication_id > $1 ORDER BY communication_id LIMIT 500`,
        [after],
      );
      if (rows.length === 0) return pending;
      await this.calls.queue.addBulk(rows.map(({ communication_id, round }) => this.job(communication_id, round)));
      pending += rows.length;
      after = rows.at(-1)!.communication_id;
    }
  }

  private job(communicationId: string, round: number) {
    return {
      name: 'deliver',
      data: { communicationId, round },
      // The row is the record: nothing stays behind in Redis once a round ends.
      opts: { jobId: jobId(communicationId, round), attempts: this.options.attempts, backoff: { type: 'custom' }, removeOnComplete: true, removeOnFail: true },
    };
  }

  private async enqueue(communicationId: string, round: number): Promise<void> {
    const { name, data, opts } = this.job(communicationId, round);
    await this.calls.queue.add(name, data, opts);
  }

  private async attempt(job: Job<DeliveryJob>): Promise<void> {
    const { communicationId, round } = job.data;
    const { db, log } = this.options;
    const attempt = job.attemptsMade + 1;
    const { rows } = await db.query<{ practice_agb: string; request_id: string | null }>(
      `SELECT practice_agb, request_id FROM delivery WHERE communication_id = $1 AND round = $2 AND status = 'pending'`,
      [communicationId, round],
    );
    const delivery = rows[0];
    if (!delivery) return;
    try {
      await this.deliver(communicationId, delivery.practice_agb, delivery.request_id ?? communicationId);
    } catch (error) {
      const failure = error instanceof DeliveryFailure ? error : new DeliveryFailure('internal error', true);
      const parked = !failure.retryable || attempt >= (job.opts.attempts ?? 1);
      await db.query(
        parked
          ? `UPDATE delivery SET status = 'parked', attempts = $3, reason = $4, parked_at = now(), updated_at = now() WHERE communication_id = $1 AND round = $2 AND status = 'pending'`
          : `UPDATE delivery SET attempts = $3, reason = $4, updated_at = now() WHERE communication_id = $1 AND round = $2 AND status = 'pending'`,
        [communicationId, round, attempt, failure.reason],
      );
      this.outcomes.inc({ outcome: parked ? 'parked' : 'retry' });
      log.warn({ communicationId, attempt, reason: failure.reason, parked, ...(failure === error ? {} : { err: { type: (error as Error).name } }) }, 'feedback delivery failed');
      throw parked ? new UnrecoverableError(failure.reason) : new Error(failure.reason);
    }
    const delivered = await db.query<{ seconds: number }>(
      `UPDATE delivery SET status = 'delivered', attempts = $3, reason = NULL, delivered_at = now(), updated_at = now()
       WHERE communication_id = $1 AND round = $2 AND status = 'pending' RETURNING extract(epoch FROM now() - queued_at)::float8 AS seconds`,
      [communicationId, round, attempt],
    );
    if (!delivered.rows[0]) return;
    this.outcomes.inc({ outcome: 'delivered' });
    this.latency.observe(delivered.rows[0].seconds);
    log.info({ communicationId, attempt }, 'feedback delivered');
  }

  private async deliver(communicationId: string, practiceAgb: string, requestId: string): Promise<void> {
    const endpoint = this.options.directory.practice(practiceAgb)?.fhirEndpoint;
    if (!endpoint) throw new DeliveryFailure('no endpoint', false);
    const stored = await this.options.store.read<Communication>('Communication', communicationId);
    if (!stored) throw new DeliveryFailure('communication not found', false);
    const parties = await this.partiesOf(stored.resource);
    const outbound = gpCommunication(stored.resource, parties, endpoint.acceptsExternalReferences ? { externalBase: this.options.publicBaseUrl } : {});
    let client = this.clients.get(practiceAgb);
    if (!client) {
      client = new FhirEndpointClient(endpoint, this.options.timeoutMs, this.options.secrets);
      this.clients.set(practiceAgb, client);
    }
    await client.deliver(outbound, requestId);
  }

  /** What the GP system knows the referral's parties by; a referral erased meanwhile is not retried. */
  private async partiesOf(communication: Communication): Promise<ReferralParties> {
    const { store, directory } = this.options;
    const idOf = (reference: string | undefined) => reference?.split('/')[1] ?? '';
    const [serviceRequest, patient, role, task] = await store.readMany([
      ['ServiceRequest', idOf(communication.basedOn?.[0]?.reference)],
      ['Patient', idOf(communication.subject?.reference)],
      ['PractitionerRole', idOf(communication.recipient?.[0]?.reference)],
      ['Task', idOf(communication.about?.[0]?.reference)],
    ]);
    const team = task && directory.team(teamOfTask(task.resource as Task));
    if (!serviceRequest || !patient || !task || !team) throw new DeliveryFailure('referral not found', false);
    const { practitioner, organization } = (role?.resource ?? {}) as PractitionerRole;
    const [practitionerOf, practice] = await store.readMany([
      ['Practitioner', idOf(practitioner?.reference)],
      ['Organization', idOf(organization?.reference)],
    ]);
    // A Communication needs a recipient (1..*): without the GP or the practice it waits for an operator.
    if (!practitionerOf && !practice) throw new DeliveryFailure('recipient not found', false);
    return {
      serviceRequest: serviceRequest.resource as ServiceRequest,
      patient: patient.resource as Patient,
      ...(practitionerOf ? { practitioner: practitionerOf.resource as Practitioner } : {}),
      ...(practice ? { practice: practice.resource as Organization } : {}),
      team,
      taskId: task.resource.id!,
    };
  }

  async parked(): Promise<ParkedDelivery[]> {
    const { rows } = await this.options.db.query<{ communication_id: string; practice_agb: string; attempts: number; reason: string; parked_at: Date }>(
      `SELECT communication_id, practice_agb, attempts, reason, parked_at FROM delivery WHERE status = 'parked' ORDER BY updated_at DESC LIMIT 500`,
    );
    return rows.map((row) => ({
      communicationId: row.communication_id,
      practiceAgb: row.practice_agb,
      attempts: row.attempts,
      reason: row.reason,
      parkedAt: row.parked_at.toISOString(),
    }));
  }

  /**
   * Delivers a parked Communication again, in a new round with a fresh set of attempts. Only a
   * parked row moves, in one statement, so a concurrent second request finds it pending: 404. The
   * row is committed before its job is queued (the worker must see it); if queueing fails, it goes
   * back to parked as it was (should even that fail, `rebuild` queues it).
   */
  async redeliver(communicationId: string): Promise<void> {
    const { db } = this.options;
    const { rows } = await db.query<{ round: number; attempts: number; reason: string; parked_at: Date }>(
      `UPDATE delivery d SET status = 'pending', round = d.round + 1, attempts = 0, reason = NULL, parked_at = NULL, queued_at = now(), updated_at = now()
       FROM (SELECT attempts, reason, parked_at FROM delivery WHERE communication_id = $1 AND status = 'parked' FOR UPDATE) parked
       WHERE d.communication_id = $1 AND d.status = 'parked' RETURNING d.round, parked.attempts, parked.reason, parked.parked_at`,
      [communicationId],
    );
    if (!rows[0]) throw notFound('Parked delivery');
    const { round, attempts, reason, parked_at } = rows[0];
    try {
      await this.enqueue(communicationId, round);
    } catch (error) {
      await db
        .query(`UPDATE delivery SET status = 'parked', attempts = $3, reason = $4, parked_at = $5, updated_at = now() WHERE communication_id = $1 AND round = $2 AND status = 'pending'`, [
          communicationId,
          round,
          attempts,
          reason,
          parked_at,
        ])
        .catch(() => undefined);
      throw error;
    }
  }

  async close(): Promise<void> {
    await this.calls.close();
  }
}
