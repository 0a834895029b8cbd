import type { Metrics } from '../../ops/metrics.js';
import type { Outbox } from '../../outbox/outbox.js';
import type { RedisRecovery } from '../../store/redis-recovery.js';
import type { DeliveryQueue } from './delivery-queue.js';

/** A committed Communication for a practice with a FHIR endpoint becomes a delivery job; an empty Redis gets the pending ones again. */
export function wireDeliveries({ deliveries, outbox, redisRecovery, metrics }: { deliveries: DeliveryQueue; outbox: Outbox; redisRecovery: RedisRecovery; metrics: Metrics }): void {
  outbox.handle('delivery', (entry) => deliveries.add(entry));
  redisRecovery.register('feedback deliveries', () => deliveries.rebuild());
  metrics.gauge({
    name: 'wor_feedback_deliveries_parked',
    help: 'Deliveries parked as failed, waiting for an operator',
    read: async () => [[{}, await deliveries.parkedCount()]],
  });
}
