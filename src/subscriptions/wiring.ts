import { randomUUID } from 'node:crypto';
import type { Outbox } from '../outbox/outbox.js';
import type { RedisRecovery } from '../store/redis-recovery.js';
import type { ResourceStore } from '../store/resource-store.js';
import type { NotificationQueue } from './notification-queue.js';
import type { SubscriptionService } from './subscription-service.js';
import { topicEvents } from './topics.js';

export interface SubscriptionWiring {
  subscriptions: SubscriptionService;
  notifications: NotificationQueue;
  store: ResourceStore;
  outbox: Outbox;
  redisRecovery: RedisRecovery;
}

/**
 * Every committed write is matched against the topics in its own transaction, and each event is
 * committed there as an outbox message that the relay takes at once: numbering it per subscription
 * and queueing its notifications. Nothing is lost between the write and the notification, and with
 * several processes each event is numbered once.
 */
export function wireSubscriptions({ subscriptions, notifications, store, outbox, redisRecovery }: SubscriptionWiring): void {
  store.onCommit((written) =>
    written
      .flatMap(topicEvents)
      .map((event) => outbox.op('subscription-event', { ...event, eventId: randomUUID(), occurredAt: new Date().toISOString() }, { relayed: true, onlyIf: subscriptions.heardOf(event) }).write),
  );
  outbox.handle('subscription-event', async (event) => notifications.events(await subscriptions.number(event)));
  redisRecovery.register('subscription notifications', () => notifications.rebuild());
}
