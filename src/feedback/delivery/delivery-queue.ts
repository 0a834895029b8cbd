import type { FastifyBaseLogger } from 'fastify';
import type { Communication } from 'fhir/r4.js';
import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Directory } from '../../directory/directory.js';
import { notFound } from '../../fhir/operation-outcome.js';
import type { ResourceStore } from '../../store/resource-store.js';
import { DeliveryFailure, FhirEndpointClient } from './fhir-endpoint-client.js';

/** One delivery of a Communication to a practice: ids only, never patient data. */
export interface DeliveryEntry {
  communicationId: string;
  practiceAgb: string;
  requestId?: string;
}

export interface DeliveryOptions {
  redisUrl: string;
  prefix: string;
  directory: Directory;
  store: ResourceStore;
  log: FastifyBaseLogger;
  registry: Registry;
  attempts: number;
  backoffMs: number;
  maxBackoffMs?: number;
  timeoutMs: number;
}

export interface ParkedDelivery {
  communicationId: string;
  practiceAgb: string;
  attempts: number;
  reason: string;
  parkedAt: string | undefined;
}

const QUEUE = 'feedback-delivery';

/**
 * Delivery of feedback to GP systems that have a FHIR endpoint (contract §7): a BullMQ job per
 * Communication (job id = Communication id, so adding twice delivers once), retried with capped
 * exponential backoff and jitter on timeouts, network errors, 429 and 5xx; any other answer, or
 * the last attempt, parks it as failed, where an operator can see it and deliver it again.
 */
export class DeliveryQueue {
  private readonly producer: Redis;
  private readonly connection: Redis;
  private readonly queue: Queue<DeliveryEntry>;
  private readonly worker: Worker<DeliveryEntry>;
  private readonly clients = new Map<string, FhirEndpointClient>();
  private readonly outcomes: Counter<'outcome'>;
  private readonly latency: Histogram;

  constructor(private readonly options: DeliveryOptions) {
    const { redisUrl, prefix, backoffMs, maxBackoffMs = 5 * 60_000 } = options;
    // As for the team queues: adding and listing fail fast while Redis is away; the worker waits for it.
    this.producer = new Redis(redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    this.connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
    for (const connection of [this.producer, this.connection]) connection.on('error', () => {});
    this.queue = new Queue<DeliveryEntry>(QUEUE, { connection: this.producer, prefix });
    this.worker = new Worker<DeliveryEntry>(QUEUE, (job) => this.attempt(job), {
      connection: this.connection,
      prefix,
      concurrency: 8,
      autorun: false,
      settings: {
        // Exponential, capped, with jitter: half the delay fixed, half random, so that retries of
        // many deliveries to one recovering GP system spread out.
        backoffStrategy: (attemptsMade: number) => {
          const delay = Math.min(maxBackoffMs, backoffMs * 2 ** (attemptsMade - 1));
          return Math.round(delay / 2 + Math.random() * (delay / 2));
        },
      },
    });
    this.worker.on('error', () => {});
    this.worker.on('failed', (job, error) => {
      const parked = !job || job.attemptsMade >= (job.opts.attempts ?? 1) || error instanceof UnrecoverableError;
      this.outcomes.inc({ outcome: parked ? 'parked' : 'retry' });
      options.log.warn({ communicationId: job?.id, attempt: job?.attemptsMade, reason: error.message, parked }, 'feedback delivery failed');
    });
    this.outcomes = new Counter({ name: 'wor_feedback_deliveries_total', help: 'Feedback delivery attempts by outcome', labelNames: ['outcome'], registers: [options.registry] });
    this.latency = new Histogram({
      name: 'wor_feedback_delivery_seconds',
      help: 'From writing a Communication to its delivery at the GP system',
      buckets: [0.05, 0.1, 0.5, 1, 5, 30, 60, 300, 1800, 3600],
      registers: [options.registry],
    });
    const queue = this.queue;
    new Gauge({
      name: 'wor_feedback_deliveries_parked',
      help: 'Deliveries parked as failed, waiting for an operator',
      registers: [options.registry],
      async collect() {
        this.set(await queue.getFailedCount());
      },
    });
  }

  async start(): Promise<void> {
    await this.queue.waitUntilReady();
    this.worker.run().catch((error: Error) => this.options.log.error({ err: { type: error.name } }, 'feedback delivery worker stopped'));
  }

  async add(entry: DeliveryEntry): Promise<void> {
    await this.queue.add('deliver', entry, {
      jobId: entry.communicationId,
      attempts: this.options.attempts,
      backoff: { type: 'custom' },
      removeOnComplete: { age: 7 * 86_400 },
      removeOnFail: false,
    });
  }

  private async attempt(job: Job<DeliveryEntry>): Promise<void> {
    const { communicationId, practiceAgb, requestId } = job.data;
    const endpoint = this.options.directory.practice(practiceAgb)?.fhirEndpoint;
    const stored = await this.options.store.read<Communication>('Communication', communicationId);
    if (!endpoint || !stored) throw new UnrecoverableError(endpoint ? 'communication not found' : 'no endpoint');
    let client = this.clients.get(practiceAgb);
    if (!client) {
      client = new FhirEndpointClient(endpoint, this.options.timeoutMs);
      this.clients.set(practiceAgb, client);
    }
    try {
      await client.deliver(stored.resource, requestId ?? communicationId);
    } catch (error) {
      const failure = error as DeliveryFailure;
      throw failure.retryable ? new Error(failure.reason) : new UnrecoverableError(failure.reason);
    }
    this.outcomes.inc({ outcome: 'delivered' });
    this.latency.observe((Date.now() - Date.parse(stored.resource.sent ?? new Date().toISOString())) / 1000);
    this.options.log.info({ communicationId, attempt: job.attemptsMade + 1 }, 'feedback delivered');
  }

  async parked(): Promise<ParkedDelivery[]> {
    const jobs = await this.queue.getFailed(0, 499);
    return jobs.map((job) => ({
      communicationId: job.id!,
      practiceAgb: job.data.practiceAgb,
      attempts: job.attemptsMade,
      reason: job.failedReason,
      parkedAt: job.finishedOn ? new Date(job.finishedOn).toISOString() : undefined,
    }));
  }

  /** Delivers a parked Communication again, with a fresh set of attempts. */
  async redeliver(communicationId: string): Promise<void> {
    const job = await this.queue.getJob(communicationId);
    if (!job || (await job.getState()) !== 'failed') throw notFound('Parked delivery');
    await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true }).catch(() => {
      // Another operator (or process) re-delivered it a moment ago.
      throw notFound('Parked delivery');
    });
  }

  async close(): Promise<void> {
    await this.worker.close();
    await this.queue.close();
    for (const connection of [this.producer, this.connection]) await connection.quit().catch(() => connection.disconnect());
  }
}
