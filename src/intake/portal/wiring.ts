import type { Metrics } from '../../ops/metrics.js';
import type { Outbox } from '../../outbox/outbox.js';
import type { ConversionQueue } from './conversion-queue.js';
import type { InboundService } from './inbound-service.js';

/** A stored portal document is converted in the background; what is not yet a referral is counted. */
export function wireInbound({ inbound, conversions, outbox, metrics }: { inbound: InboundService; conversions: ConversionQueue; outbox: Outbox; metrics: Metrics }): void {
  outbox.handle('inbound', ({ messageId, replay }) => conversions.add(messageId, replay));
  metrics.gauge({
    name: 'wor_inbound_documents',
    help: 'Portal documents not turned into a referral: received (waiting) or failed (waiting for an operator)',
    labelNames: ['status'],
    read: async () => [
      [{ status: 'received' }, 0],
      [{ status: 'failed' }, 0],
      ...(await inbound.unprocessed()).map(({ status, count }): [{ status: string }, number] => [{ status }, count]),
    ],
  });
}
