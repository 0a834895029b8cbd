/**
 * Backoff between attempts of a delivery: exponential, capped, with jitter — half the delay fixed,
 * half random, so that retries of many deliveries to one recovering receiver spread out.
 */
export function cappedJitterBackoff(backoffMs: number, maxBackoffMs: number) {
  return (attemptsMade: number): number => {
    const delay = Math.min(maxBackoffMs, backoffMs * 2 ** (attemptsMade - 1));
    return Math.round(delay / 2 + Math.random() * (delay / 2));
  };
}

/** How calls to a partner's endpoint are tried: how often, how far apart at first, how long each may take. */
export interface PartnerCallPolicy {
  attempts: number;
  backoffMs: number;
  timeoutMs: number;
}
