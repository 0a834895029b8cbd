import { randomUUID } from 'node:crypto';
import type { Resource } from 'fhir/r4.js';
import type { Redis } from 'ioredis';
import { indexEntries } from '../fhir/search-parameters.js';
import { Keys } from './keys.js';
import { COMMIT_SCRIPT, SEARCH_SCRIPT } from './lua.js';

/** The pseudo-tenant under which every resource is indexed, for operators. */
const OPERATOR_TAG = '_all';

/** A resource as stored: its current version and the tenancy tags of who may see it. */
export interface Stored<T extends Resource = Resource> {
  resource: T;
  acl: string[];
}

export interface Write {
  /** The new content; `id` is required, `meta.versionId`/`meta.lastUpdated` are set on commit. */
  resource: Resource;
  /** What the writer read before; absent for a create. The commit fails if it is no longer current. */
  previous?: Stored;
  acl: string[];
}

/** A raw Redis command that must happen in the same atomic step (queue outbox, guards). */
export type ExtraOp = [command: 'SADD' | 'SREM' | 'ZADD' | 'ZREM' | 'DEL' | 'SET' | 'HSET', ...args: string[]];

export interface CommitRequest {
  writes: Write[];
  /** Written last and only if the key does not exist yet; when it does, nothing is written. */
  guard?: { key: string; value: string };
  ops?: ExtraOp[];
}

export type CommitResult =
  | { outcome: 'committed'; resources: Resource[] }
  | { outcome: 'guarded'; existing: string }
  | { outcome: 'conflict'; type: string; id: string };

export interface SearchQuery {
  type: string;
  /** Tenancy tag of the caller, or undefined for an operator (every resource). */
  tenant?: string;
  /** Each inner array: index values of one parameter (OR); the parameters are AND-ed. */
  filters: Array<Array<[param: string, value: string]>>;
  lastUpdated?: { min?: number; max?: number; minExclusive?: boolean; maxExclusive?: boolean };
  offset: number;
  count: number;
}

declare module 'ioredis' {
  interface RedisCommander {
    worCommit(tx: string): Promise<string[]>;
    worSearch(query: string): Promise<Array<number | string>>;
  }
}

/**
 * Versioned FHIR resources in Redis with history, search indexes and tenancy. Writes of several
 * resources (a whole referral) are atomic: one Lua script checks versions and guards, then writes.
 */
export class ResourceStore {
  constructor(
    private readonly redis: Redis,
    readonly keys: Keys,
  ) {
    redis.defineCommand('worCommit', { numberOfKeys: 0, lua: COMMIT_SCRIPT });
    redis.defineCommand('worSearch', { numberOfKeys: 0, lua: SEARCH_SCRIPT });
  }

  async read<T extends Resource>(type: string, id: string): Promise<Stored<T> | undefined> {
    const key = this.keys.resource(type, id);
    const [version, acl] = await this.redis.hmget(key, 'v', 'acl');
    if (!version || !acl) return undefined;
    const json = await this.redis.hget(key, version);
    return json ? { resource: JSON.parse(json) as T, acl: JSON.parse(acl) as string[] } : undefined;
  }

  async readMany(refs: Array<[type: string, id: string]>): Promise<Array<Stored | undefined>> {
    return Promise.all(refs.map(([type, id]) => this.read(type, id)));
  }

  async vread(type: string, id: string, versionId: string): Promise<Stored | undefined> {
    const [json, acl] = await this.redis.hmget(this.keys.resource(type, id), versionId, 'acl');
    return json && acl && /^[0-9]+$/.test(versionId) ? { resource: JSON.parse(json) as Resource, acl: JSON.parse(acl) as string[] } : undefined;
  }

  /** All versions, newest first. */
  async history(type: string, id: string): Promise<{ versions: Resource[]; acl: string[] } | undefined> {
    const fields = await this.redis.hgetall(this.keys.resource(type, id));
    if (!fields.v || !fields.acl) return undefined;
    const versions = Object.entries(fields)
      .filter(([field]) => /^[0-9]+$/.test(field))
      .sort(([a], [b]) => Number(b) - Number(a))
      .map(([, json]) => JSON.parse(json) as Resource);
    return { versions, acl: JSON.parse(fields.acl) as string[] };
  }

  async commit(request: CommitRequest): Promise<CommitResult> {
    const lastUpdated = new Date();
    const ops: ExtraOp[] = [];
    const resources: Resource[] = [];
    const writes = request.writes.map(({ resource, previous, acl }) => {
      const type = resource.resourceType;
      const id = resource.id;
      if (!id) throw new Error(`${type} without id`);
      const previousVersion = Number(previous?.resource.meta?.versionId ?? 0);
      const version = previousVersion + 1;
      const written = {
        ...resource,
        meta: { ...resource.meta, versionId: String(version), lastUpdated: lastUpdated.toISOString() },
      } as Resource;
      resources.push(written);
      ops.push(...this.indexChanges(written, acl, previous));
      return { key: this.keys.resource(type, id), prev: previousVersion, version, json: JSON.stringify(written), acl: JSON.stringify(acl) };
    });
    const reply = await this.redis.worCommit(JSON.stringify({ guard: request.guard, writes, ops: [...ops, ...(request.ops ?? [])] }));
    if (reply[0] === 'ok') return { outcome: 'committed', resources };
    if (reply[0] === 'guard') return { outcome: 'guarded', existing: reply[1]! };
    const [, type, id] = /:res:([A-Za-z]+):(.+)$/.exec(reply[1]!) ?? [];
    return { outcome: 'conflict', type: type!, id: id! };
  }

  /**
   * The index and tenancy sets to leave and to join (again, with the new lastUpdated as score).
   * Every resource is also indexed under the operators' tag, who see everything.
   */
  private indexChanges(resource: Resource, acl: string[], previous: Stored | undefined): ExtraOp[] {
    const id = resource.id!;
    const after = new Set(this.indexKeysOf(resource, acl));
    const before = previous ? this.indexKeysOf(previous.resource, previous.acl) : [];
    const score = String(Date.parse(resource.meta!.lastUpdated!));
    return [
      ...before.filter((key) => !after.has(key)).map((key): ExtraOp => ['ZREM', key, id]),
      ...[...after].map((key): ExtraOp => ['ZADD', key, score, id]),
    ];
  }

  /** Every index and tenancy set a version of a resource is in. */
  private indexKeysOf(resource: Resource, acl: string[]): string[] {
    const type = resource.resourceType;
    return [...acl, OPERATOR_TAG].flatMap((tag) => [
      this.keys.tenancy(type, tag),
      ...indexEntries(resource).map(([param, value]) => this.keys.index(type, param, value, tag)),
    ]);
  }

  /**
   * Erases resources for good: every version, and their entries in every index any version was in,
   * together with `extraKeys` (guards, timers), in one transaction.
   */
  async erase(refs: Array<[type: string, id: string]>, extraKeys: string[] = []): Promise<void> {
    const transaction = this.redis.multi();
    for (const [type, id] of refs) {
      const history = await this.history(type, id);
      const keys = new Set((history?.versions ?? []).flatMap((version) => this.indexKeysOf(version, history!.acl)));
      for (const key of keys) transaction.zrem(key, id);
      transaction.del(this.keys.resource(type, id));
    }
    if (extraKeys.length > 0) transaction.del(...extraKeys);
    await transaction.exec();
  }

  /**
   * Read-modify-write with optimistic concurrency: `change` gets the current version and returns
   * the next content (or undefined to leave it); on a concurrent write it runs again on the newer one.
   */
  async update<T extends Resource>(
    type: string,
    id: string,
    change: (current: Stored<T>) => T | undefined,
    options: { ops?: (next: T) => ExtraOp[] } = {},
  ): Promise<{ before: Stored<T>; after: Stored<T> } | undefined> {
    for (;;) {
      const current = await this.read<T>(type, id);
      if (!current) return undefined;
      const next = change(current);
      if (!next) return { before: current, after: current };
      const result = await this.commit({ writes: [{ resource: next, previous: current, acl: current.acl }], ops: options.ops?.(next) });
      if (result.outcome === 'committed') return { before: current, after: { resource: result.resources[0] as T, acl: current.acl } };
    }
  }

  async search(query: SearchQuery): Promise<{ total: number; resources: Resource[] }> {
    const { type, lastUpdated = {} } = query;
    const tenant = query.tenant ?? OPERATOR_TAG;
    const bound = (value: number | undefined, exclusive: boolean | undefined, infinite: string) =>
      value === undefined ? infinite : `${exclusive ? '(' : ''}${value}`;
    const reply = await this.redis.worSearch(
      JSON.stringify({
        base: this.keys.tenancy(type, tenant),
        filters: query.filters.map((alternatives) => alternatives.map(([param, value]) => this.keys.index(type, param, value, tenant))),
        min: bound(lastUpdated.min, lastUpdated.minExclusive, '-inf'),
        max: bound(lastUpdated.max, lastUpdated.maxExclusive, '+inf'),
        offset: query.offset,
        count: query.count,
        scratch: `${this.keys.scratch}:${randomUUID()}`,
        resourcePrefix: `${this.keys.resource(type, '')}`,
      }),
    );
    const [total, ...jsons] = reply;
    return { total: Number(total), resources: jsons.map((json) => JSON.parse(String(json)) as Resource) };
  }
}
