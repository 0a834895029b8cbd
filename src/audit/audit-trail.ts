import { randomUUID } from 'node:crypto';
import type { AuditEvent } from 'fhir/r4.js';
import type { Redis } from 'ioredis';
import { createHash as digest } from 'node:crypto';

/**
 * Appends an event to the chain: its hash covers the previous hash and the event, so changing or
 * removing an event breaks every hash after it. Atomic, so several processes share one chain.
 * (SHA-1 is what Redis offers inside a script; the chain detects tampering, it is no signature.)
 *
 * ARGV: stream, head, eventJson, now (ms), indexKey...
 */
const APPEND_SCRIPT = `
local previous = redis.call('GET', ARGV[2]) or 'genesis'
local hash = redis.sha1hex(previous .. ARGV[3])
local id = redis.call('XADD', ARGV[1], '*', 'event', ARGV[3], 'previous', previous, 'hash', hash)
redis.call('SET', ARGV[2], hash)
for i = 5, #ARGV do redis.call('ZADD', ARGV[i], ARGV[4], id) end
return id
`;

declare module 'ioredis' {
  interface RedisCommander {
    worAuditAppend(...args: string[]): Promise<string>;
  }
}

export interface ChainCheck {
  valid: boolean;
  events: number;
  /** Stream id of the first event whose hash does not follow from its predecessor. */
  brokenAt?: string;
}

/** The NEN 7513 audit trail: a hash-chained Redis stream, indexed by patient and by client. */
export class AuditTrail {
  private readonly keys: { auditStream: string; auditHead: string; auditByPatient(reference: string): string; auditByClient(client: string): string };

  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    const hashed = (value: string) => digest('sha256').update(value).digest('base64url').slice(0, 22);
    this.keys = {
      auditStream: `${prefix}:audit`,
      auditHead: `${prefix}:audit:head`,
      auditByPatient: (reference) => `${prefix}:audit:patient:${hashed(reference)}`,
      auditByClient: (client) => `${prefix}:audit:client:${hashed(client)}`,
    };
    redis.defineCommand('worAuditAppend', { numberOfKeys: 0, lua: APPEND_SCRIPT });
  }

  static newId(): string {
    return randomUUID();
  }

  async append(event: AuditEvent): Promise<void> {
    const patients = (event.entity ?? []).flatMap((entity) => (entity.role?.code === '1' && entity.what?.reference ? [entity.what.reference] : []));
    const client = event.agent?.[0]?.who?.identifier?.value ?? 'unknown';
    await this.redis.worAuditAppend(
      this.keys.auditStream,
      this.keys.auditHead,
      JSON.stringify(event),
      String(Date.parse(event.recorded)),
      ...patients.map((patient) => this.keys.auditByPatient(patient)),
      this.keys.auditByClient(client),
    );
  }

  /** Events about any of these patients or by this client, oldest first. */
  async find(query: { patients?: string[]; client?: string }, limit = 1000): Promise<AuditEvent[]> {
    const indexKeys = [...(query.patients ?? []).map((patient) => this.keys.auditByPatient(patient)), ...(query.client ? [this.keys.auditByClient(query.client)] : [])];
    const ids = new Set<string>();
    for (const key of indexKeys) for (const id of await this.redis.zrange(key, 0, limit - 1)) ids.add(id);
    const events: AuditEvent[] = [];
    for (const id of [...ids].sort(compareStreamIds).slice(0, limit)) {
      const [entry] = await this.redis.xrange(this.keys.auditStream, id, id);
      const fields = entry?.[1];
      if (fields) events.push(JSON.parse(fields[fields.indexOf('event') + 1]!) as AuditEvent);
    }
    return events;
  }

  /** Recomputes the chain from the start (or from the oldest event kept after retention). */
  async verify(): Promise<ChainCheck> {
    const { createHash } = await import('node:crypto');
    let cursor = '-';
    let expectedPrevious: string | undefined;
    let events = 0;
    for (;;) {
      const batch = await this.redis.xrange(this.keys.auditStream, cursor, '+', 'COUNT', 500);
      for (const [id, fields] of batch) {
        if (id === cursor) continue;
        const value = (name: string) => fields[fields.indexOf(name) + 1] ?? '';
        const previous = value('previous');
        const hash = createHash('sha1').update(previous + value('event')).digest('hex');
        if ((expectedPrevious !== undefined && previous !== expectedPrevious) || hash !== value('hash')) return { valid: false, events, brokenAt: id };
        expectedPrevious = hash;
        events += 1;
      }
      if (batch.length < 500) return { valid: true, events };
      cursor = batch[batch.length - 1]![0];
    }
  }

  /** Removes events older than the retention period (the chain then starts at the oldest kept). */
  async trim(retentionDays: number): Promise<void> {
    const cutoff = Date.now() - retentionDays * 86_400_000;
    await this.redis.xtrim(this.keys.auditStream, 'MINID', String(cutoff));
  }
}

function compareStreamIds(a: string, b: string): number {
  const [aTime, aSeq] = a.split('-').map(Number) as [number, number];
  const [bTime, bSeq] = b.split('-').map(Number) as [number, number];
  return aTime - bTime || aSeq - bSeq;
}
