import type { FastifyBaseLogger } from 'fastify';
import type { Retention } from './retention.js';

const HOUR_MS = 3_600_000;

/** Hourly, erases referrals that ended more than `retentionDays` ago. Returns the stop. */
export function scheduleRetention({ retention, retentionDays, log }: { retention: Retention; retentionDays: number; log: FastifyBaseLogger }): () => void {
  const sweep = async () => {
    const cutoff = new Date(Date.now() - retentionDays * 86_400_000);
    while ((await retention.sweep(cutoff)) > 0);
  };
  const timer = setInterval(() => void sweep().catch((error: Error) => log.warn({ err: { type: error.name } }, 'retention sweep failed')), HOUR_MS);
  timer.unref();
  return () => clearInterval(timer);
}
