import type { Metrics } from '../ops/metrics.js';
import type { Outbox } from './outbox.js';

const SWEEP_INTERVAL_MS = 2_000;

/** How far the relay is behind, for /metrics. */
export function wireOutbox({ outbox, metrics }: { outbox: Outbox; metrics: Metrics }): void {
  metrics.gauge({
    name: 'wor_outbox_backlog',
    help: 'Follow-up messages committed but not yet handled',
    read: async () => [[{}, await outbox.backlog()]],
  });
}

/**
 * Starts the relay once every owner has registered its handler: first a pass over everything a
 * crash left behind, then on NOTIFY and a sweep. Handlers are idempotent and run under a row lock,
 * so racing another live process does no harm.
 */
export async function startOutboxRelay(outbox: Outbox): Promise<void> {
  while ((await outbox.relay(true)) > 0);
  await outbox.start(SWEEP_INTERVAL_MS);
}
