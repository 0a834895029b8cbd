import type { FastifyBaseLogger } from 'fastify';
import { UnrecoverableError, type Job } from 'bullmq';
import { Counter, type Registry } from 'prom-client';
import { PartnerCallQueue, type PartnerCallPolicy } from '../feedback/delivery/partner-calls.js';
import type { Directory } from '../directory/directory.js';
import { DeliveryFailure, failedAnswer, noAnswer } from '../feedback/delivery/fhir-endpoint-client.js';
import type { Db } from '../store/postgres.js';
import { endpointRefusal } from './endpoint-policy.js';
import { notificationBundle, type NumberedEvent } from './notification-bundle.js';
import type { SubscriptionService, QueuedEvent } from './subscription-service.js';
import type { SubscriptionRecord } from './subscription-resource.js';

/** What a job carries: ids and numbers only. `version` ties a handshake to the subscription as it was asked for. */
type NotificationJob =
  | { kind: 'handshake'; subscriptionId: string; version: number }
  | { kind: 'heartbeat'; subscriptionId: string }
  | { kind: 'event'; subscriptionId: string; number: number };

export interface NotificationOptions extends PartnerCallPolicy {
  redisUrl: string;
  prefix: string;
  baseUrl: string;
  development: boolean;
  directory: Directory;
  subscriptions: SubscriptionService;
  db: Db;
  log: FastifyBaseLogger;
  registry: Registry;
  /** Notifications given up on in a row before the subscription goes to `error`. */
  errorAfter: number;
}

const QUEUE = 'subscription-notification';
/** How long `$events` can fetch an event again; the numbering goes on regardless. */
const EVENT_RETENTION_DAYS = 30;
/** `#` cannot occur in a subscription id (a UUID), so job ids never collide. */
const jobId = (job: NotificationJob) =>
  job.kind === 'handshake' ? `${job.subscriptionId}#handshake#${job.version}` : job.kind === 'event' ? `${job.subscriptionId}#event#${job.number}` : `${job.subscriptionId}#heartbeat#${Date.now()}`;

/**
 * Notifications to subscribers' rest-hook endpoints through BullMQ, with the retry, backoff and
 * give-up discipline of feedback delivery. PostgreSQL holds the record (subscription status,
 * events pending or delivered); a job only carries out one notification and is rebuilt from the
 * rows when Redis lost it. A job whose subscription or event has moved on does nothing.
 */
export class NotificationQueue {
  private readonly calls: PartnerCallQueue<NotificationJob>;
  private readonly outcomes: Counter<'outcome'>;
  private sweeper: NodeJS.Timeout | undefined;
  private sweeping: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: NotificationOptions) {
    this.calls = new PartnerCallQueue<NotificationJob>(QUEUE, options, (job) => this.attempt(job));
    this.outcomes = new Counter({
      name: 'wor_subscription_notifications_total',
      help: 'Subscription notification attempts by outcome (delivered, retry, given-up)',
      labelNames: ['outcome'],
      registers: [options.registry],
    });
  }

  async start(sweepMs: number): Promise<void> {
    await this.calls.start((error) => this.options.log.error({ err: { type: error.name } }, 'subscription notification worker stopped'));
    this.sweeper = setInterval(() => {
      this.sweeping = this.sweeping.then(() => this.sweep()).catch((error: Error) => this.options.log.warn({ err: { type: error.name } }, 'subscription sweep failed'));
    }, sweepMs);
    this.sweeper.unref();
  }

  private async add(job: NotificationJob): Promise<void> {
    await this.calls.queue.add(job.kind, job, { jobId: jobId(job), attempts: this.options.attempts, backoff: { type: 'custom' }, removeOnComplete: true, removeOnFail: true });
  }

  /**
   * Queues the handshake of a subscription just written. Should Redis refuse it, the subscription is
   * stored all the same and the sweep queues its handshake a minute later: the request that wrote it
   * still succeeds, so that its client does not send it again and subscribe twice.
   */
  async handshake(subscription: SubscriptionRecord): Promise<void> {
    await this.add({ kind: 'handshake', subscriptionId: subscription.id, version: subscription.version }).catch((error: Error) =>
      this.options.log.warn({ err: { type: error.name }, subscriptionId: subscription.id }, 'handshake deferred to the sweep'),
    );
  }

  async events(events: QueuedEvent[]): Promise<void> {
    for (const { subscriptionId, number } of events) await this.add({ kind: 'event', subscriptionId, number });
  }

  /**
   * Ends subscriptions past their end, forgets events older than the retention (also those still owed
   * to a subscription in error or off, which nobody will send), queues again a handshake whose job was
   * lost (Redis refused it after the subscription was written; the job id keeps a queued one single),
   * and claims the heartbeats that are due (one process takes each: the claim moves `last_sent_at`),
   * then queues them.
   */
  async sweep(): Promise<void> {
    const { db } = this.options;
    await db.query(`UPDATE subscription SET status = 'off', updated_at = now(), version = version + 1 WHERE end_at <= now() AND status <> 'off'`);
    await db.query(`DELETE FROM subscription_event WHERE status <> 'pending' AND occurred_at < now() - make_interval(days => ${EVENT_RETENTION_DAYS})`);
    await db.query(
      `DELETE FROM subscription_event WHERE status = 'pending' AND occurred_at < now() - make_interval(days => ${EVENT_RETENTION_DAYS})
         AND subscription_id IN (SELECT id FROM subscription WHERE status IN ('error', 'off'))`,
    );
    const waiting = await db.query<{ id: string; version: number }>(
      `SELECT id, version FROM subscription WHERE status = 'requested' AND updated_at < now() - interval '1 minute'`,
    );
    for (const row of waiting.rows) await this.add({ kind: 'handshake', subscriptionId: row.id, version: row.version });
    const { rows } = await db.query<{ id: string }>(
      `UPDATE subscription SET last_sent_at = now() WHERE id IN (
         SELECT id FROM subscription WHERE status = 'active' AND heartbeat_seconds IS NOT NULL
           AND last_sent_at + make_interval(secs => heartbeat_seconds) <= now() LIMIT 500 FOR UPDATE SKIP LOCKED)
       RETURNING id`,
    );
    for (const { id } of rows) await this.add({ kind: 'heartbeat', subscriptionId: id });
  }

  /** Queues every handshake and event notification PostgreSQL says is owed; returns how many. */
  async rebuild(): Promise<number> {
    const { db } = this.options;
    const handshakes = await db.query<{ id: string; version: number }>(`SELECT id, version FROM subscription WHERE status = 'requested'`);
    for (const row of handshakes.rows) await this.add({ kind: 'handshake', subscriptionId: row.id, version: row.version });
    const events = await db.query<{ subscription_id: string; number: string }>(
      `SELECT e.subscription_id, e.number FROM subscription_event e JOIN subscription s ON s.id = e.subscription_id WHERE e.status = 'pending' AND s.status = 'active'`,
    );
    await this.events(events.rows.map((row) => ({ subscriptionId: row.subscription_id, number: Number(row.number) })));
    return handshakes.rows.length + events.rows.length;
  }

  private async attempt(job: Job<NotificationJob>): Promise<void> {
    const data = job.data;
    const subscription = await this.options.subscriptions.find(data.subscriptionId);
    if (!subscription) return;
    let event: NumberedEvent | undefined;
    if (data.kind === 'handshake' && (subscription.status !== 'requested' || subscription.version !== data.version)) return;
    if (data.kind !== 'handshake' && subscription.status !== 'active') return;
    if (data.kind === 'event') {
      event = await this.options.subscriptions.pendingEvent(subscription.id, data.number);
      if (!event) return;
    }
    const attempt = job.attemptsMade + 1;
    try {
      const type = data.kind === 'event' ? 'event-notification' : data.kind;
      await this.post(subscription, notificationBundle(this.options.baseUrl, subscription, type, event ? [event] : []));
    } catch (error) {
      const failure = error instanceof DeliveryFailure ? error : new DeliveryFailure('internal error', true);
      const givenUp = !failure.retryable || attempt >= (job.opts.attempts ?? 1);
      if (givenUp) await this.giveUp(subscription, data, attempt, failure.reason);
      else if (event) await this.options.db.query('UPDATE subscription_event SET attempts = $3, reason = $4 WHERE subscription_id = $1 AND number = $2', [subscription.id, event.number, attempt, failure.reason]);
      this.outcomes.inc({ outcome: givenUp ? 'given-up' : 'retry' });
      this.options.log.warn({ subscriptionId: subscription.id, kind: data.kind, attempt, reason: failure.reason, givenUp }, 'subscription notification failed');
      throw givenUp ? new UnrecoverableError(failure.reason) : new Error(failure.reason);
    }
    await this.delivered(subscription, data, attempt);
    this.outcomes.inc({ outcome: 'delivered' });
    this.options.log.info({ subscriptionId: subscription.id, kind: data.kind, attempt }, 'subscription notified');
  }

  private async delivered(subscription: SubscriptionRecord, data: NotificationJob, attempt: number): Promise<void> {
    const { db } = this.options;
    if (data.kind === 'handshake') {
      const { rowCount } = await db.query(
        `UPDATE subscription SET status = 'active', error = NULL, failures = 0, last_sent_at = now(), updated_at = now() WHERE id = $1 AND version = $2 AND status = 'requested'`,
        [subscription.id, data.version],
      );
      // What happened between the request and the handshake is owed now.
      if (rowCount === 1) await this.rebuildOf(subscription.id);
      return;
    }
    if (data.kind === 'event') {
      await db.query(`UPDATE subscription_event SET status = 'delivered', attempts = $3, reason = NULL WHERE subscription_id = $1 AND number = $2`, [subscription.id, data.number, attempt]);
    }
    await db.query('UPDATE subscription SET failures = 0, last_sent_at = now() WHERE id = $1', [subscription.id]);
  }

  private async rebuildOf(subscriptionId: string): Promise<void> {
    const { rows } = await this.options.db.query<{ number: string }>(`SELECT number FROM subscription_event WHERE subscription_id = $1 AND status = 'pending' ORDER BY number`, [subscriptionId]);
    await this.events(rows.map((row) => ({ subscriptionId, number: Number(row.number) })));
  }

  /**
   * A notification given up on: a failed handshake puts the subscription in `error` at once; a
   * failed event (left for `$events`) or heartbeat counts, and so many in a row do too.
   */
  private async giveUp(subscription: SubscriptionRecord, data: NotificationJob, attempt: number, reason: string): Promise<void> {
    const { db, errorAfter } = this.options;
    if (data.kind === 'handshake') {
      await db.query(`UPDATE subscription SET status = 'error', error = $3, updated_at = now() WHERE id = $1 AND version = $2 AND status = 'requested'`, [
        subscription.id,
        data.version,
        `handshake failed: ${reason}`,
      ]);
      return;
    }
    if (data.kind === 'event') {
      await db.query(`UPDATE subscription_event SET status = 'failed', attempts = $3, reason = $4 WHERE subscription_id = $1 AND number = $2`, [subscription.id, data.number, attempt, reason]);
    }
    await db.query(
      `UPDATE subscription SET failures = failures + 1,
         status = CASE WHEN failures + 1 >= $2 THEN 'error' ELSE status END,
         error = CASE WHEN failures + 1 >= $2 THEN $3 ELSE error END,
         updated_at = now()
       WHERE id = $1 AND status = 'active'`,
      [subscription.id, errorAfter, `${errorAfter} notifications in a row failed, the last: ${reason}`],
    );
  }

  /** One POST, no redirects followed, within the subscription's timeout (or the service's). */
  private async post(subscription: SubscriptionRecord, bundle: object): Promise<void> {
    const { directory, development, timeoutMs } = this.options;
    // The directory may have changed since the subscription was made: checked again at every call.
    const refusal = endpointRefusal(subscription.endpoint, directory.notificationHosts(subscription.tenant), development);
    if (refusal) throw new DeliveryFailure('endpoint no longer allowed', false);
    const headers = Object.fromEntries(subscription.headers.map((header) => [header.slice(0, header.indexOf(':')).trim(), header.slice(header.indexOf(':') + 1).trim()]));
    const response = await fetch(subscription.endpoint, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/fhir+json' },
      body: JSON.stringify(bundle),
      redirect: 'manual',
      signal: AbortSignal.timeout(subscription.timeoutSeconds ? subscription.timeoutSeconds * 1000 : timeoutMs),
    }).catch((error: Error) => {
      throw noAnswer(error);
    });
    await response.body?.cancel().catch(() => undefined);
    if (response.status >= 300 && response.status < 400) throw new DeliveryFailure(`HTTP ${response.status} (redirects are not followed)`, false);
    if (!response.ok) throw failedAnswer(response.status);
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    await this.sweeping;
    await this.calls.close();
  }
}
