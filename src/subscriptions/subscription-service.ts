import { randomUUID } from 'node:crypto';
import { canSee, tenantTag, type Caller } from '../auth/caller.js';
import type { Directory } from '../directory/directory.js';
import { teamOrganizationId } from '../directory/team-organization.js';
import { FhirError, forbidden, notFound, preconditionFailed } from '../fhir/operation-outcome.js';
import type { OutboxMessages } from '../outbox/outbox.js';
import { transaction, type Db } from '../store/postgres.js';
import type { ResourceStore, Statement } from '../store/resource-store.js';
import { endpointRefusal } from './endpoint-policy.js';
import type { NumberedEvent } from './notification-bundle.js';
import { unmaskHeaders, type SubscriptionRecord, type SubscriptionRequest } from './subscription-resource.js';
import { topicByUrl, type TopicEvent } from './topics.js';

interface Row {
  id: string;
  tenant: string;
  version: number;
  topic: string;
  filter: Record<string, string>;
  endpoint: string;
  headers: string[];
  content: SubscriptionRecord['content'];
  heartbeat_seconds: number | null;
  timeout_seconds: number | null;
  end_at: Date | null;
  reason: string | null;
  status: SubscriptionRecord['status'];
  error: string | null;
  events_since_start: string;
  updated_at: Date;
}

const record = (row: Row): SubscriptionRecord => ({
  id: row.id,
  tenant: row.tenant,
  version: row.version,
  topic: row.topic,
  filter: row.filter,
  endpoint: row.endpoint,
  headers: row.headers,
  content: row.content,
  heartbeatSeconds: row.heartbeat_seconds,
  timeoutSeconds: row.timeout_seconds,
  endAt: row.end_at,
  reason: row.reason,
  status: row.status,
  error: row.error,
  eventsSinceStart: Number(row.events_since_start),
  updatedAt: row.updated_at,
});

declare module '../outbox/outbox.js' {
  interface OutboxMessages {
    /** Number a topic event for its subscribers and queue their notifications. */
    'subscription-event': TopicEvent & { eventId: string; occurredAt: string };
  }
}

/** Subscriptions live until deleted; a page of them is plenty for one client's search. */
const SEARCH_LIMIT = 100;
const EVENTS_LIMIT = 100;

/** A subscription event as numbered for one subscription: what its notification job delivers. */
export interface QueuedEvent {
  subscriptionId: string;
  number: number;
}

export interface SubscriptionServiceOptions {
  db: Db;
  store: ResourceStore;
  directory: Directory;
  development: boolean;
}

/**
 * Subscriptions in PostgreSQL, always within the caller's tenancy (another tenant's subscription
 * answers as missing), and the numbering of events per subscription.
 */
export class SubscriptionService {
  constructor(private readonly options: SubscriptionServiceOptions) {}

  /**
   * Refuses what the caller may not ask for: an endpoint the directory does not allow for its
   * tenancy, a filter on another team or another practice's referrer. A coach system hears of its
   * own team's Tasks: without an owner filter it gets one.
   */
  private async authorise(caller: Caller, request: SubscriptionRequest): Promise<SubscriptionRequest> {
    const filter = { ...request.filter };
    const topic = topicByUrl(request.topic)!;
    if (topic.filter.parameter === 'owner') {
      const ownTeam = `Organization/${teamOrganizationId(caller.org)}`;
      if (caller.role === 'coach') filter.owner ??= ownTeam;
      if (filter.owner !== undefined && filter.owner !== ownTeam) throw forbidden('A Subscription may filter only on the Tasks of your own team');
    }
    if (filter.recipient !== undefined) {
      const [type, id = ''] = filter.recipient.split('/');
      const target = type === 'PractitionerRole' ? await this.options.store.read('PractitionerRole', id) : undefined;
      if (!target || !canSee(caller, target.acl)) throw forbidden('A Subscription may filter only on a recipient within your own tenancy');
    }
    const refusal = endpointRefusal(request.endpoint, this.options.directory.notificationHosts(tenantTag(caller)), this.options.development);
    if (refusal) throw new FhirError(422, { code: 'business-rule', expression: 'Subscription.channel.endpoint', diagnostics: refusal });
    return { ...request, filter };
  }

  async create(caller: Caller, asked: SubscriptionRequest): Promise<SubscriptionRecord> {
    const request = await this.authorise(caller, asked);
    const { rows } = await this.options.db.query<Row>(
      `INSERT INTO subscription (id, tenant, topic, filter, endpoint, headers, content, heartbeat_seconds, timeout_seconds, end_at, reason, status)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING *`,
      [randomUUID(), tenantTag(caller), ...this.columns(request)],
    );
    return record(rows[0]!);
  }

  private columns(request: SubscriptionRequest) {
    return [
      request.topic,
      JSON.stringify(request.filter),
      request.endpoint,
      request.headers,
      request.content,
      request.heartbeatSeconds,
      request.timeoutSeconds,
      request.endAt,
      request.reason,
      request.off ? 'off' : 'requested',
    ];
  }

  /** A change of any kind asks for a new handshake (unless it turns the subscription off); the numbering goes on. */
  async update(caller: Caller, id: string, asked: SubscriptionRequest, expectVersion?: string): Promise<SubscriptionRecord> {
    const authorised = await this.authorise(caller, asked);
    const current = await this.read(caller, id);
    if (expectVersion !== undefined && String(current.version) !== expectVersion) throw preconditionFailed('Subscription');
    const request = { ...authorised, headers: unmaskHeaders(asked.headers, current.headers) };
    const { rows } = await this.options.db.query<Row>(
      `UPDATE subscription SET topic = $3, filter = $4, endpoint = $5, headers = $6, content = $7, heartbeat_seconds = $8, timeout_seconds = $9,
         end_at = $10, reason = $11, status = $12, error = NULL, failures = 0, version = version + 1, updated_at = now()
       WHERE id = $1 AND version = $2 RETURNING *`,
      [id, current.version, ...this.columns(request)],
    );
    if (!rows[0]) throw preconditionFailed('Subscription');
    return record(rows[0]);
  }

  async read(caller: Caller, id: string): Promise<SubscriptionRecord> {
    const { rows } = await this.options.db.query<Row>('SELECT * FROM subscription WHERE id = $1 AND (tenant = $2 OR $3)', [id, tenantTag(caller), caller.role === 'operator']);
    if (!rows[0]) throw notFound(`Subscription/${id}`);
    return record(rows[0]);
  }

  /** Without checking who asks: for the notification worker. */
  async find(id: string): Promise<SubscriptionRecord | undefined> {
    const { rows } = await this.options.db.query<Row>('SELECT * FROM subscription WHERE id = $1', [id]);
    return rows[0] ? record(rows[0]) : undefined;
  }

  async search(caller: Caller, status?: string): Promise<SubscriptionRecord[]> {
    const { rows } = await this.options.db.query<Row>(
      `SELECT * FROM subscription WHERE (tenant = $1 OR $2) AND ($3::text IS NULL OR status = $3) ORDER BY id LIMIT ${SEARCH_LIMIT}`,
      [tenantTag(caller), caller.role === 'operator', status ?? null],
    );
    return rows.map(record);
  }

  async delete(caller: Caller, id: string): Promise<void> {
    await this.read(caller, id);
    await this.options.db.query('DELETE FROM subscription WHERE id = $1', [id]);
  }

  /**
   * Numbers a topic event for every subscription that hears of it: same topic, the focus within
   * its tenancy, its filter met, not off or ended. Under a lock on each subscription, so numbers
   * have no gaps; an event handed on twice (same `eventId`) is numbered once.
   */
  async number(event: OutboxMessages['subscription-event']): Promise<QueuedEvent[]> {
    return transaction(this.options.db, async (sql) => {
      const { rows } = await sql.query<{ id: string }>(
        `SELECT id FROM subscription
         WHERE topic = $1 AND tenant = ANY($2) AND status IN ('requested', 'active', 'error') AND (end_at IS NULL OR end_at > now())
           AND NOT EXISTS (SELECT 1 FROM jsonb_each_text(filter) f WHERE f.value <> ALL($3))
         ORDER BY id FOR UPDATE`,
        [event.topic, event.tenants, event.filterValues],
      );
      const queued: QueuedEvent[] = [];
      for (const { id } of rows) {
        const inserted = await sql.query<{ number: string }>(
          `INSERT INTO subscription_event (subscription_id, number, source, focus, created, occurred_at)
           SELECT id, events_since_start + 1, $2, $3, $4, $5 FROM subscription WHERE id = $1
           ON CONFLICT (subscription_id, source) DO NOTHING RETURNING number`,
          [id, event.eventId, event.focus, event.created, event.occurredAt],
        );
        if (inserted.rows[0]) await sql.query('UPDATE subscription SET events_since_start = $2 WHERE id = $1', [id, inserted.rows[0].number]);
      }
      // Those numbered by an earlier, interrupted hand-on are queued again too.
      const numbered = await sql.query<{ subscription_id: string; number: string }>(
        `SELECT subscription_id, number FROM subscription_event WHERE source = $1 AND status = 'pending' AND subscription_id = ANY($2)`,
        [event.eventId, rows.map((row) => row.id)],
      );
      for (const row of numbered.rows) queued.push({ subscriptionId: row.subscription_id, number: Number(row.number) });
      return queued;
    });
  }

  /**
   * Events of a subscription in a range of numbers (`$events`), oldest first; by default from the
   * first to the latest. Of a subscription `read` found for the caller: another tenant's is missing.
   */
  async events(subscription: SubscriptionRecord, since = 1, until?: number): Promise<NumberedEvent[]> {
    const { rows } = await this.options.db.query<{ number: string; focus: string; created: boolean; occurred_at: Date }>(
      `SELECT number, focus, created, occurred_at FROM subscription_event WHERE subscription_id = $1 AND number BETWEEN $2 AND $3 ORDER BY number LIMIT ${EVENTS_LIMIT}`,
      [subscription.id, since, until ?? subscription.eventsSinceStart],
    );
    return rows.map((row) => ({ number: Number(row.number), focus: row.focus, created: row.created, occurredAt: row.occurred_at }));
  }

  async pendingEvent(id: string, number: number): Promise<NumberedEvent | undefined> {
    const { rows } = await this.options.db.query<{ focus: string; created: boolean; occurred_at: Date }>(
      `SELECT focus, created, occurred_at FROM subscription_event WHERE subscription_id = $1 AND number = $2 AND status = 'pending'`,
      [id, number],
    );
    return rows[0] ? { number, focus: rows[0].focus, created: rows[0].created, occurredAt: rows[0].occurred_at } : undefined;
  }

  /**
   * Does anyone hear of this event? A condition the writer's own statement checks, so that a write
   * nobody subscribed to costs one index lookup and no round trip.
   */
  heardOf(event: TopicEvent): Statement {
    return {
      text: `EXISTS (SELECT 1 FROM subscription WHERE topic = $1 AND tenant = ANY($2) AND status IN ('requested', 'active', 'error'))`,
      values: [event.topic, event.tenants],
    };
  }
}
