import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { Redis } from 'ioredis';

export interface RedisRecoveryOptions {
  redis: Redis;
  epochKey: string;
  log: FastifyBaseLogger;
}

/**
 * Redis holds only what can be rebuilt from PostgreSQL. An epoch key marks a Redis that holds what
 * the service put there; when it is missing — a FLUSHALL, an empty restart, a new Redis — every
 * owner rebuilds its part (queues, deliveries) from PostgreSQL, by itself and without a restart.
 * Rebuilders are idempotent (job id = resource id), so processes that notice at once do no harm.
 */
export class RedisRecovery {
  private readonly rebuilders: Array<{ name: string; rebuild: () => Promise<number> }> = [];
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly options: RedisRecoveryOptions) {}

  /** `rebuild` puts the owner's part back and returns how many items it restored. */
  register(name: string, rebuild: () => Promise<number>): void {
    this.rebuilders.push({ name, rebuild });
  }

  /** Rebuilds when the epoch is gone; returns whether it did. */
  async check(): Promise<boolean> {
    if ((await this.options.redis.exists(this.options.epochKey)) === 1) return false;
    for (const { name, rebuild } of this.rebuilders) {
      const restored = await rebuild();
      this.options.log.info({ part: name, restored }, 'Redis was empty: rebuilt from PostgreSQL');
    }
    // Set only after every part is back: a crash half-way makes the next check start again.
    await this.options.redis.set(this.options.epochKey, randomUUID());
    return true;
  }

  start(intervalMs: number): void {
    this.timer = setInterval(() => {
      this.running ??= this.check()
        .then(() => undefined, (error: Error) => this.options.log.warn({ err: { type: error.name } }, 'Redis check failed; retrying'))
        .finally(() => (this.running = undefined));
    }, intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }
}
