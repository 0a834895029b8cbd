import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Sql } from '../store/postgres.js';
import { NotificationQueue } from './notification-queue.js';
import { SubscriptionService } from './subscription-service.js';
import { topicEvents } from './topics.js';

declare module 'fastify' {
  interface FastifyInstance {
    subscriptions: SubscriptionService;
    notifications: NotificationQueue;
  }
}

/**
 * Topic-based Subscriptions. Every committed write is matched against the topics in its own
 * transaction, and each event is committed there as an outbox message that the relay takes at
 * once: numbering it per subscription and queueing its notifications. Nothing is lost between the
 * write and the notification, and with several processes each event is numbered once.
 */
export default fp(
  async function subscriptions(app: FastifyInstance) {
    const { config } = app;
    const development = config.WOR_DEV === '1';
    const service = new SubscriptionService(app.db, app.store, app.directory, development);
    const queue = new NotificationQueue({
      redisUrl: config.REDIS_URL,
      prefix: app.redisKeys.bull,
      baseUrl: config.PUBLIC_BASE_URL,
      development,
      directory: app.directory,
      subscriptions: service,
      db: app.db,
      log: app.log,
      registry: app.metrics.registry,
      attempts: config.DELIVERY_ATTEMPTS,
      backoffMs: config.DELIVERY_BACKOFF_MS,
      timeoutMs: config.DELIVERY_TIMEOUT_MS,
      errorAfter: config.SUBSCRIPTION_ERROR_AFTER,
    });
    app.decorate('subscriptions', service);
    app.decorate('notifications', queue);

    app.store.onCommit((written) =>
      written.flatMap(topicEvents).map((event) => async (sql: Sql) => {
        if (!(await service.hasSubscribers(sql, event))) return;
        await app.outbox.op('subscription-event', { ...event, eventId: randomUUID(), occurredAt: new Date().toISOString() }, { relayed: true }).write(sql);
      }),
    );
    app.outbox.handle('subscription-event', async (event) => queue.events(await service.number(event)));
    app.redisRecovery.register('subscription notifications', () => queue.rebuild());
    app.addHook('onReady', async () => queue.start(config.SUBSCRIPTION_SWEEP_MS));
    app.addHook('onClose', async () => queue.close());
  },
  { name: 'subscriptions', dependencies: ['database', 'store', 'directory', 'metrics', 'outbox'] },
);
