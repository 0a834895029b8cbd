import type { FastifyBaseLogger } from 'fastify';
import type { Redis } from 'ioredis';
import { AuditTrail } from './audit/audit-trail.js';
import { scheduleAuditMaintenance } from './audit/wiring.js';
import { TokenVerifier } from './auth/token-verifier.js';
import type { Config, Secrets } from './config.js';
import type { PartnerCallPolicy } from './feedback/delivery/partner-calls.js';
import type { Directory } from './directory/directory.js';
import { publishTeamOrganizations } from './directory/wiring.js';
import { DeadlineSweeper } from './feedback/deadline-sweeper.js';
import { DeadlineTimers } from './feedback/deadline-timers.js';
import { DeliveryQueue } from './feedback/delivery/delivery-queue.js';
import { wireDeliveries } from './feedback/delivery/wiring.js';
import { FeedbackService } from './feedback/feedback-service.js';
import { wireFeedback } from './feedback/wiring.js';
import { MasterDataIds } from './intake/master-data.js';
import { ConversionQueue } from './intake/portal/conversion-queue.js';
import { InboundService } from './intake/portal/inbound-service.js';
import { wireInbound } from './intake/portal/wiring.js';
import type { IntakeDependencies } from './intake/submit-referral.js';
import { wireIntake } from './intake/wiring.js';
import { createMetrics, type Metrics } from './ops/metrics.js';
import { Outbox } from './outbox/outbox.js';
import { startOutboxRelay, wireOutbox } from './outbox/wiring.js';
import { LeaseService } from './queue/lease-service.js';
import { QueueSignal } from './queue/queue-signal.js';
import { TeamQueues } from './queue/team-queues.js';
import { wireQueue } from './queue/wiring.js';
import { OutcomeReports } from './reports/outcome-reports.js';
import { ReportLinks } from './reports/report-links.js';
import { wireReports } from './reports/wiring.js';
import { Retention } from './retention/retention.js';
import { scheduleRetention } from './retention/wiring.js';
import { createPool, describeDatabase, migrate, type Db } from './store/postgres.js';
import { assertNoEviction, connectRedis } from './store/redis.js';
import { RedisKeys } from './store/redis-keys.js';
import { RedisRecovery } from './store/redis-recovery.js';
import { ResourceStore } from './store/resource-store.js';
import { NotificationQueue } from './subscriptions/notification-queue.js';
import { SubscriptionService } from './subscriptions/subscription-service.js';
import { wireSubscriptions } from './subscriptions/wiring.js';
import { TaskService } from './tasks/task-service.js';
import { wireTasks } from './tasks/wiring.js';

export interface ServicesOptions {
  config: Config;
  directory: Directory;
  /** The secrets the directory names, read from the environment once at boot. */
  secrets: Secrets;
  log: FastifyBaseLogger;
}

/** What the HTTP plugins and the tests use of the object graph; each plugin gets its part as plugin options. */
export interface Services {
  config: Config;
  directory: Directory;
  secrets: Secrets;
  db: Db;
  redis: Redis;
  redisRecovery: RedisRecovery;
  store: ResourceStore;
  tokens: TokenVerifier;
  metrics: Metrics;
  tasks: TaskService;
  deliveries: DeliveryQueue;
  subscriptions: SubscriptionService;
  notifications: NotificationQueue;
  feedback: FeedbackService;
  deadlines: DeadlineSweeper;
  queues: TeamQueues;
  leases: LeaseService;
  intake: IntakeDependencies;
  audit: AuditTrail;
  inbound: InboundService;
  retention: Retention;
  reports: OutcomeReports;
  reportLinks: ReportLinks;
  /** Stops everything in the reverse order of its start: the background work first, the connections last. */
  close(): Promise<void>;
}

const REDIS_RECOVERY_CHECK_MS = 2_000;

/**
 * The composition root: builds every service in dependency order, lets each domain wire its
 * reactions (outbox handlers, Task change listeners, Redis rebuilds, gauges) next to its own code,
 * and starts the background work once all of them are in place. A failure on the way stops what
 * was already started.
 */
export async function createServices({ config, directory, secrets, log }: ServicesOptions): Promise<Services> {
  const stops: Array<() => unknown> = [];
  const close = async () => {
    // Every stop runs even when one before it failed: a connection left open keeps the process alive.
    for (const stop of stops.splice(0).reverse()) {
      await Promise.resolve()
        .then(stop)
        .catch((error: Error) => log.warn({ err: { type: error.name } }, 'a service did not stop cleanly'));
    }
  };
  try {
    // PostgreSQL, its schema brought up to date before anything uses it.
    await migrate(config.DATABASE_URL, config.DATABASE_SCHEMA, (message) => log.debug({ migration: message.trim() }, 'migration'));
    const db = createPool(config.DATABASE_URL, config.DATABASE_SCHEMA, config.DATABASE_POOL_SIZE);
    stops.push(() => db.end());
    log.info({ postgres: describeDatabase(config.DATABASE_URL, config.DATABASE_SCHEMA) }, 'using PostgreSQL');
    const store = new ResourceStore(db, config.WOR_SECRET);
    const reindexed = await store.reindexIfOutdated();
    if (reindexed > 0) log.info({ reindexed }, 'search index rebuilt for a new search index definition');

    // Redis, for what can be rebuilt from PostgreSQL.
    const redis = await connectRedis(config.REDIS_URL);
    stops.push(() => redis.quit().catch(() => redis.disconnect()));
    await assertNoEviction(redis);
    const { host, port } = redis.options;
    log.info({ redis: { host, port, prefix: config.REDIS_KEY_PREFIX } }, 'using Redis');
    const redisKeys = new RedisKeys(config.REDIS_KEY_PREFIX);
    const redisRecovery = new RedisRecovery({ redis, epochKey: redisKeys.epoch, log });

    const tokens = new TokenVerifier({
      jwksFile: config.AUTH_JWKS_FILE,
      jwksUrl: config.AUTH_JWKS_URL,
      issuer: config.AUTH_ISSUER,
      audience: config.AUTH_AUDIENCE,
    });
    const metrics = createMetrics(log);
    await publishTeamOrganizations(store, directory);

    const outbox = new Outbox({ db, schema: config.DATABASE_SCHEMA, log });
    wireOutbox({ outbox, metrics });

    const tasks = new TaskService({ store, outbox, log });
    wireTasks({ tasks, outbox });

    // Feedback deliveries and subscription notifications call partners' endpoints under one policy.
    const partnerCalls: PartnerCallPolicy = { attempts: config.DELIVERY_ATTEMPTS, backoffMs: config.DELIVERY_BACKOFF_MS, timeoutMs: config.DELIVERY_TIMEOUT_MS };
    const deliveries = new DeliveryQueue({
      redisUrl: config.REDIS_URL,
      prefix: redisKeys.bull,
      directory,
      store,
      db,
      log,
      registry: metrics.registry,
      ...partnerCalls,
      secrets,
      publicBaseUrl: config.PUBLIC_BASE_URL,
    });
    stops.push(() => deliveries.close());
    await deliveries.start();
    wireDeliveries({ deliveries, outbox, redisRecovery, metrics });

    const development = config.WOR_DEV === '1';
    const subscriptions = new SubscriptionService({ db, store, directory, development });
    const notifications = new NotificationQueue({
      redisUrl: config.REDIS_URL,
      prefix: redisKeys.bull,
      baseUrl: config.PUBLIC_BASE_URL,
      development,
      directory,
      subscriptions,
      db,
      log,
      registry: metrics.registry,
      ...partnerCalls,
      errorAfter: config.SUBSCRIPTION_ERROR_AFTER,
    });
    stops.push(() => notifications.close());
    wireSubscriptions({ subscriptions, notifications, store, outbox, redisRecovery });

    const deadlineTimers = new DeadlineTimers(db);
    const feedback = new FeedbackService({ store, directory, outbox, log });
    const deadlines = new DeadlineSweeper({ db, timers: deadlineTimers, store, feedback, log, registry: metrics.registry });
    wireFeedback({ feedback, deadlineTimers, outbox, tasks });

    // A lease that runs out (noticed by the queue) returns its Task through the lease service built next.
    const queues = new TeamQueues({
      redisUrl: config.REDIS_URL,
      prefix: redisKeys.bull,
      teams: directory.teams,
      leaseMs: config.QUEUE_LEASE_SECONDS * 1000,
      onLeaseExpired: (team, taskId) => {
        leases.leaseExpired(team, taskId).catch((error: Error) => log.warn({ err: { type: error.name }, taskId }, 'could not return an expired task'));
      },
    });
    stops.push(() => queues.close());
    const signal = new QueueSignal({ redisUrl: config.REDIS_URL, publisher: redis, channel: redisKeys.queueSignal });
    stops.push(() => signal.close());
    const leases: LeaseService = new LeaseService({ store, redis, keys: redisKeys, queues, tasks, signal, timers: deadlineTimers, log });
    await Promise.all([queues.start(), signal.start()]);
    wireQueue({ queues, leases, signal, store, tasks, outbox, redisRecovery, metrics, directory });

    const intake: IntakeDependencies = {
      store,
      outbox,
      timers: deadlineTimers,
      directory,
      masterDataIds: new MasterDataIds(config.WOR_SECRET),
      db,
      countReferral: (channel, outcome) => metrics.referrals.inc({ channel, outcome }),
    };
    wireIntake({ store, tasks });

    const audit = new AuditTrail(db, config.WOR_SECRET);
    await audit.prepare();
    stops.push(scheduleAuditMaintenance(audit, config.AUDIT_RETENTION_DAYS));

    const inbound = new InboundService({ intake, store, tasks, db, outbox, log });
    const conversions = new ConversionQueue({
      redisUrl: config.REDIS_URL,
      prefix: redisKeys.bull,
      inbound,
      log,
      attempts: config.INBOUND_RETRY_ATTEMPTS,
      backoffMs: config.INBOUND_RETRY_BACKOFF_MS,
    });
    stops.push(() => conversions.close());
    await conversions.start();
    wireInbound({ inbound, conversions, outbox, metrics });

    const retention = new Retention({ store, timers: deadlineTimers, leases, inbound, log });
    stops.push(scheduleRetention({ retention, retentionDays: config.REFERRAL_RETENTION_DAYS, log }));

    const reports = new OutcomeReports({ store, directory, minimumCount: config.REPORT_MINIMUM_COUNT });
    const reportLinks = new ReportLinks(config.WOR_SECRET, config.REPORT_LINK_DAYS);
    wireReports({ reports, directory, metrics });

    // Every owner has registered its handlers and rebuilds: the background work may start.
    await redisRecovery.check();
    redisRecovery.start(REDIS_RECOVERY_CHECK_MS);
    stops.push(() => redisRecovery.stop());
    stops.push(() => outbox.stop());
    await startOutboxRelay(outbox);
    await notifications.start(config.SUBSCRIPTION_SWEEP_MS);
    deadlines.start(config.DEADLINE_CHECK_MS);
    stops.push(() => deadlines.stop());

    return {
      config,
      directory,
      secrets,
      db,
      redis,
      redisRecovery,
      store,
      tokens,
      metrics,
      tasks,
      deliveries,
      subscriptions,
      notifications,
      feedback,
      deadlines,
      queues,
      leases,
      intake,
      audit,
      inbound,
      retention,
      reports,
      reportLinks,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
