import type { AuditTrail } from './audit-trail.js';

const DAY_MS = 86_400_000;

/** Daily: drops the months past retention, and creates next month's partition ahead of time. Returns the stop. */
export function scheduleAuditMaintenance(trail: AuditTrail, retentionDays: number): () => void {
  const timer = setInterval(() => void Promise.all([trail.trim(retentionDays), trail.prepare()]).catch(() => undefined), DAY_MS);
  timer.unref();
  return () => clearInterval(timer);
}
