import { randomUUID } from 'node:crypto';
import type { Resource } from 'fhir/r4.js';
import type pg from 'pg';
import { indexEntries, SEARCH_INDEX_VERSION } from '../fhir/search-parameters.js';
import { KeyedHash } from './keyed-hash.js';
import { APPLICATION_NAME, isConcurrencyFailure, StatementBuilder, transaction, type Db, type Sql } from './postgres.js';

/** The SQLSTATE of `commit_refused` (migration 015): a commit that may not write, rolled back. */
const COMMIT_REFUSED = 'WB409';
/** How often a commit statement is sent while PostgreSQL rolls it back for concurrent writers; then the error answers 503. */
const COLLISION_ATTEMPTS = 3;
/** The pseudo-parameter every resource is indexed under once per tenant: a search without parameters. */
const ANY = '_any';

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

/**
 * A data-modifying statement (INSERT, UPDATE or DELETE, nothing returned) that commits with a write.
 * It reaches PostgreSQL inside the commit's own statement, or with the consecutive ones of an
 * erasure, as data-modifying CTEs: they see one snapshot, so none may touch rows another of them,
 * or the write, touches.
 */
export interface Statement {
  text: string;
  values: unknown[];
}

/** More SQL that must happen in the same transaction (outbox messages, timers, documents). */
export type Effect = ((sql: Sql) => Promise<unknown>) | Statement;

const DATA_MODIFYING = /^\s*(INSERT|UPDATE|DELETE)\b/i;

/** An effect statement as it may go into a statement of CTEs: data-modifying, nothing else. */
function checkedEffect(effect: Statement): Statement {
  if (!DATA_MODIFYING.test(effect.text)) throw new Error(`an effect statement must be an INSERT, UPDATE or DELETE: ${effect.text.slice(0, 40)}`);
  return effect;
}

/** Effect statements as CTEs of `statement`, their parameters numbered after those before. */
const effectParts = (statement: StatementBuilder, effects: Statement[]) => effects.map((effect, index) => `effect_${index} AS (${statement.embed(effect)})`);

/** Runs effects in their order; consecutive statements in one round trip. */
export async function runEffects(sql: Sql, effects: Effect[]): Promise<void> {
  let statements: Statement[] = [];
  const send = async () => {
    if (statements.length > 0) await sql.query(...asOneStatement(statements));
    statements = [];
  };
  for (const effect of effects) {
    if (typeof effect !== 'function') {
      statements.push(checkedEffect(effect));
      continue;
    }
    await send();
    await effect(sql);
  }
  await send();
}

function asOneStatement(statements: Statement[]): [string, unknown[]] {
  if (statements.length === 1) return [statements[0]!.text, statements[0]!.values];
  const statement = new StatementBuilder();
  return [`WITH ${effectParts(statement, statements).join(', ')} SELECT 1`, statement.values];
}

/**
 * A write as it is committed (the new version; its `meta.lastUpdated`, which only the database
 * knows, still a placeholder), with the version it replaced.
 */
export interface CommittedWrite {
  resource: Resource;
  previous?: Resource;
  acl: string[];
}

/** Follow-up work that any committed write may call for, whoever wrote it (subscription events). */
export type CommitHook = (written: CommittedWrite[]) => Statement[];

/** An idempotency record: written only if none exists under the same scope and key. */
export interface Guard {
  scope: string;
  /** The business key; stored as a keyed hash. */
  key: string;
  value: unknown;
  /** The ServiceRequest the record belongs to, so that erasing the referral finds it. */
  owner?: string;
}

export interface CommitRequest {
  writes: Write[];
  /**
   * What the commit relies on without changing it (a referral pointing at a Patient it found
   * current): locked against erasure and change until the commit, which fails with a conflict if one
   * is no longer the version read.
   */
  unchanged?: Stored[];
  /** When a record exists under its key, nothing is written. */
  guard?: Guard;
  /** Statements only: a commit is one statement. */
  effects?: Statement[];
}

export type CommitResult =
  | { outcome: 'committed'; resources: Resource[] }
  | { outcome: 'guarded'; existing: unknown }
  | { outcome: 'conflict'; type: string; id: string };

/**
 * Where a page starts: after this (lastUpdated, id) in the search's order, as the store stood at
 * `snapshot` (the first page's time): a resource written since keeps the place it had then.
 */
export interface Cursor {
  lastUpdated: string;
  id: string;
  snapshot: string;
}

export interface SearchQuery {
  type: string;
  /** Tenancy tag of the caller, or undefined for an operator or the service itself (every tenancy). */
  tenant?: string;
  /** Each inner array: index values of one parameter (OR); the parameters are AND-ed. */
  filters: Array<Array<[param: string, value: string]>>;
  /** `_id`: only these resources (AND-ed with the filters). */
  ids?: string[];
  lastUpdated?: { min?: number; max?: number; minExclusive?: boolean; maxExclusive?: boolean };
  count: number;
  /** Newest first (default), or oldest first. */
  order?: 'desc' | 'asc';
  cursor?: Cursor;
}

export interface SearchResult {
  total: number;
  resources: Resource[];
  /** Where the next page starts, when there is one. */
  next?: Cursor;
}


/**
 * In-flight write transactions started no earlier than this, so every row a later commit brings has
 * a lastUpdated at or after it. A search with a lower bound on _lastUpdated shows only rows before it:
 * a poller that follows `_lastUpdated=gt<last seen>` can then never skip a row committed late.
 */
const STABLE_HORIZON = `(SELECT date_trunc('milliseconds', LEAST(now(), COALESCE(min(xact_start), now())))
  FROM pg_stat_activity
  WHERE datname = current_database() AND application_name = '${APPLICATION_NAME}' AND xact_start IS NOT NULL AND pid <> pg_backend_pid())`;

/**
 * The tenancy tags that resources of type $1 are indexed under, each found with one probe of the
 * index (a loose index scan): a search across tenants then reads one index range per tenant.
 */
const TENANTS_OF_TYPE = `WITH RECURSIVE tenants AS (
    SELECT min(tenant) AS tenant FROM search_index WHERE resource_type = $1
    UNION ALL
    SELECT (SELECT min(s.tenant) FROM search_index s WHERE s.resource_type = $1 AND s.tenant > tenants.tenant) FROM tenants WHERE tenants.tenant IS NOT NULL
  ) SELECT tenant FROM tenants WHERE tenant IS NOT NULL`;

/**
 * Parameters in the order a search leads with them: the first matches fewest resources. `_id` and
 * identifiers name a few; a reference to one patient, ServiceRequest or Task a handful; a status a
 * stage of the workflow (a queue); the rest (owner, requester, recipient, a search without
 * parameters) a tenant's whole history.
 */
const LEADING = ['identifier', 'patient', 'focus', 'based-on', 'business-status', 'status'];
const leadingRank = (filter: { param: string; ids?: string[] }) => (filter.ids ? -1 : LEADING.includes(filter.param) ? LEADING.indexOf(filter.param) : LEADING.length);

/**
 * Versioned FHIR resources in PostgreSQL with history, search indexes and tenancy. A commit of
 * several resources (a whole referral), its idempotency record and its follow-up work is one
 * transaction; optimistic concurrency is a version check in the UPDATE itself.
 */
export class ResourceStore {
  private readonly indexHash: KeyedHash;
  private readonly guardHash: KeyedHash;
  private readonly commitHooks: CommitHook[] = [];
  /** Stands for meta.lastUpdated in content sent to a commit, which the database replaces: unique, so no content holds it. */
  private readonly lastUpdatedPlaceholder = `wor-last-updated-${randomUUID()}`;

  constructor(
    private readonly db: Db,
    secret: string,
  ) {
    this.indexHash = new KeyedHash(secret, 'search-index');
    this.guardHash = new KeyedHash(secret, 'idempotency');
  }

  /** Runs `hook` in the transaction of every commit that wrote resources: its effects commit or roll back with them. */
  onCommit(hook: CommitHook): void {
    this.commitHooks.push(hook);
  }

  async read<T extends Resource>(type: string, id: string): Promise<Stored<T> | undefined> {
    const { rows } = await this.db.query<{ content: T; acl: string[] }>('SELECT content, acl FROM resource WHERE resource_type = $1 AND id = $2', [type, id]);
    return rows[0] ? { resource: rows[0].content, acl: rows[0].acl } : undefined;
  }

  async readMany(refs: Array<[type: string, id: string]>): Promise<Array<Stored | undefined>> {
    if (refs.length === 0) return [];
    const { rows } = await this.db.query<{ resource_type: string; id: string; content: Resource; acl: string[] }>(
      'SELECT r.resource_type, r.id, r.content, r.acl FROM resource r JOIN unnest($1::text[], $2::text[]) AS wanted(t, i) ON r.resource_type = wanted.t AND r.id = wanted.i',
      [refs.map(([type]) => type), refs.map(([, id]) => id)],
    );
    const found = new Map(rows.map((row) => [`${row.resource_type}/${row.id}`, { resource: row.content, acl: row.acl }]));
    return refs.map(([type, id]) => found.get(`${type}/${id}`));
  }

  async vread(type: string, id: string, versionId: string): Promise<Stored | undefined> {
    if (!/^[0-9]{1,9}$/.test(versionId)) return undefined;
    const { rows } = await this.db.query<{ content: Resource; acl: string[] }>(
      `SELECT v.content, r.acl FROM resource_history v JOIN resource r USING (resource_type, id)
       WHERE v.resource_type = $1 AND v.id = $2 AND v.version = $3`,
      [type, id, Number(versionId)],
    );
    return rows[0] ? { resource: rows[0].content, acl: rows[0].acl } : undefined;
  }

  /** All versions, newest first. */
  async history(type: string, id: string): Promise<{ versions: Resource[]; acl: string[] } | undefined> {
    const { rows } = await this.db.query<{ content: Resource; acl: string[] }>(
      `SELECT v.content, r.acl FROM resource_history v JOIN resource r USING (resource_type, id)
       WHERE v.resource_type = $1 AND v.id = $2 ORDER BY v.version DESC`,
      [type, id],
    );
    return rows.length > 0 ? { versions: rows.map((row) => row.content), acl: rows[0]!.acl } : undefined;
  }

  /** Every version of each of these resources, oldest first, with its current tenancy tags. */
  async histories(type: string, ids: string[]): Promise<Map<string, { versions: Resource[]; acl: string[] }>> {
    const { rows } = await this.db.query<{ id: string; content: Resource; acl: string[] }>(
      `SELECT v.id, v.content, r.acl FROM resource_history v JOIN resource r USING (resource_type, id)
       WHERE v.resource_type = $1 AND v.id = ANY($2::text[]) ORDER BY v.id, v.version`,
      [type, ids],
    );
    const histories = new Map<string, { versions: Resource[]; acl: string[] }>();
    for (const row of rows) {
      const history = histories.get(row.id) ?? { versions: [], acl: row.acl };
      history.versions.push(row.content);
      histories.set(row.id, history);
    }
    return histories;
  }

  /** The stored value of an idempotency record, if there is one. */
  async guarded(scope: string, key: string): Promise<unknown> {
    const { rows } = await this.db.query<{ value: unknown }>('SELECT value FROM idempotency WHERE scope = $1 AND key = $2', [scope, this.guardHash.of(key)]);
    return rows[0]?.value;
  }

  /**
   * Commits a write as one statement, which is its own transaction: the idempotency record, the
   * version checks, the resources with their history and index rows, and the effects. One round trip,
   * and nothing half-written: when the statement finds it may not write, it fails as a whole.
   */
  async commit(request: CommitRequest): Promise<CommitResult> {
    if (new Set(request.writes.map(({ resource }) => `${resource.resourceType}/${resource.id}`)).size < request.writes.length) {
      throw new Error('a commit writes each resource once');
    }
    const planned = request.writes.map(({ resource, previous, acl }) => {
      if (!resource.id) throw new Error(`${resource.resourceType} without id`);
      const version = Number(previous?.resource.meta?.versionId ?? 0) + 1;
      const content = { ...resource, meta: { ...resource.meta, versionId: String(version), lastUpdated: this.lastUpdatedPlaceholder } } as Resource;
      return { content, version, acl, previous: previous?.resource };
    });
    const hooks = planned.length > 0 ? this.commitHooks.flatMap((hook) => hook(planned.map(({ content, previous, acl }) => ({ resource: content, previous, acl })))) : [];
    const statement = this.commitStatement(request, planned, [...(request.effects ?? []), ...hooks]);
    try {
      const { rows } = await this.committed(statement);
      const lastUpdated = rows[0]!.last_updated;
      return { outcome: 'committed', resources: planned.map(({ content }) => ({ ...content, meta: { ...content.meta, lastUpdated } }) as Resource) };
    } catch (error) {
      const { code, message } = error as Error & { code?: string };
      if (code !== COMMIT_REFUSED) throw error;
      // The insert waited for a concurrent first writer, which has committed by now: its record answers.
      if (message === 'guarded') return { outcome: 'guarded', existing: await this.guarded(request.guard!.scope, request.guard!.key) };
      const [type = '', id = ''] = message.replace(/^conflict /, '').split('/');
      return { outcome: 'conflict', type, id };
    }
  }

  /**
   * Runs a commit statement. Two writers that lock the same rows in opposite orders (two referrals
   * of one practice, each bringing other details of its GP) deadlock, and PostgreSQL rolls one
   * statement back whole: that one is sent again, and its version checks decide anew.
   */
  private async committed(statement: Statement): Promise<pg.QueryResult<{ last_updated: string }>> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.db.query<{ last_updated: string }>(statement.text, statement.values);
      } catch (error) {
        if (!isConcurrencyFailure(error as Error) || attempt >= COLLISION_ATTEMPTS) throw error;
      }
    }
  }

  /**
   * The statement of a commit. Its parts see one snapshot, so none may depend on another's writes;
   * what decides whether it may write (`refusal`) reads the outcome of each and, when one failed,
   * calls `commit_refused`, whose error rolls all of them back.
   */
  private commitStatement(request: CommitRequest, planned: Array<{ content: Resource; version: number; acl: string[] }>, effects: Statement[]): Statement {
    const statement = new StatementBuilder();
    const bind = (value: unknown) => statement.bind(value);
    // lastUpdated is the transaction's start, which only the database knows: the content is sent with
    // a placeholder in its place (see STABLE_HORIZON for why it must be the start).
    const parts = [
      `clock AS (SELECT at, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS text FROM (SELECT date_trunc('milliseconds', now()) AS at) AS start)`,
    ];
    const refusals: string[] = [];
    const { guard, unchanged = [] } = request;
    if (guard) {
      parts.push(
        `guard AS (INSERT INTO idempotency (scope, key, value, owner) VALUES (${bind(guard.scope)}, ${bind(this.guardHash.of(guard.key))}, ${bind(JSON.stringify(guard.value))}, ${bind(guard.owner ?? null)})
         ON CONFLICT DO NOTHING RETURNING 1)`,
      );
      refusals.push(`SELECT 1, 'guarded' WHERE NOT EXISTS (SELECT 1 FROM guard)`);
    }
    if (unchanged.length > 0) {
      // Locked against erasure and change until the commit. Joined, not tested with EXISTS, so that
      // every row is read, and so locked, whatever plan the database picks.
      const relied = `unnest(${bind(unchanged.map(({ resource }) => resource.resourceType))}::text[], ${bind(unchanged.map(({ resource }) => resource.id))}::text[], ${bind(unchanged.map(({ resource }) => Number(resource.meta?.versionId)))}::int[]) AS u(t, i, v)`;
      parts.push(`locked AS (SELECT r.resource_type, r.id, r.version FROM resource r JOIN ${relied} ON r.resource_type = u.t AND r.id = u.i ORDER BY r.resource_type, r.id FOR SHARE OF r)`);
      refusals.push(`SELECT 2, 'conflict ' || u.t || '/' || u.i FROM ${relied} LEFT JOIN locked l ON l.resource_type = u.t AND l.id = u.i WHERE l.version IS DISTINCT FROM u.v`);
    }
    if (planned.length > 0) {
      const rows = planned.flatMap(({ content, acl }) => this.indexRows(content, acl));
      // A repeat (the record exists) writes no resource or index row only to roll them back.
      const whenFirst = guard ? ' WHERE EXISTS (SELECT 1 FROM guard)' : '';
      parts.push(
        `w AS (SELECT t, i, v, a, c FROM unnest(${bind(planned.map(({ content }) => content.resourceType))}::text[], ${bind(planned.map(({ content }) => content.id))}::text[], ${bind(planned.map(({ version }) => version))}::int[],
           ${bind(planned.map(({ acl }) => acl.join('\u001f')))}::text[], ${bind(planned.map(({ content }) => JSON.stringify(content)))}::text[]) AS w(t, i, v, a, c)
         ), written AS (
           SELECT w.t, w.i, w.v, string_to_array(w.a, chr(31)) AS a, replace(w.c, ${bind(this.lastUpdatedPlaceholder)}, clock.text)::json AS c, clock.at FROM w, clock${whenFirst}
         ), created AS (
           INSERT INTO resource (resource_type, id, version, last_updated, acl, content)
           SELECT t, i, 1, at, a, c FROM written WHERE v = 1
           ON CONFLICT DO NOTHING RETURNING resource_type, id
         ), updated AS (
           -- The version it replaces goes to resource_version by trigger (migration 019).
           UPDATE resource r SET version = w.v, last_updated = w.at, acl = w.a, content = w.c
           FROM written w WHERE w.v > 1 AND r.resource_type = w.t AND r.id = w.i AND r.version = w.v - 1
           RETURNING r.resource_type, r.id
         ), stored AS (
           SELECT resource_type, id FROM created UNION ALL SELECT resource_type, id FROM updated
         ), unindexed AS (
           -- After the version-checked UPDATE has locked the resource, as concurrent writers queue on it.
           DELETE FROM search_index s USING updated u WHERE s.resource_type = u.resource_type AND s.id = u.id
         ), indexed AS (
           INSERT INTO search_index (resource_type, tenant, param, value, last_updated, id)
           SELECT t, n, p, v, clock.at, i FROM clock, unnest(${[0, 1, 2, 3, 4].map((column) => `${bind(rows.map((row) => row[column]))}::text[]`).join(', ')}) AS x(t, n, p, v, i)${whenFirst}
         )`,
      );
      // A create whose id is taken, or an update of a version that is no longer current.
      refusals.push(`SELECT 3, 'conflict ' || w.t || '/' || w.i FROM w LEFT JOIN stored s ON s.resource_type = w.t AND s.id = w.i WHERE s.id IS NULL`);
    }
    parts.push(...effectParts(statement, effects.map(checkedEffect)));
    // The first refusal by rank alone is raised: a repeated submission is `guarded`, whatever else it met.
    const refused = refusals.length > 0
      ? `(SELECT commit_refused(reason) FROM (SELECT reason FROM (${refusals.join(' UNION ALL ')}) AS refusal(rank, reason) ORDER BY rank LIMIT 1) AS first)`
      : 'NULL';
    return { text: `WITH ${parts.join(', ')} SELECT text AS last_updated, ${refused} AS refused FROM clock`, values: statement.values };
  }

  /** Every (type, tenant, param, hashed value, id) a resource is found under: once in each tenancy that may see it. */
  private indexRows(resource: Resource, acl: string[]): Array<[string, string, string, string, string]> {
    const entries = [[ANY, ''], ...indexEntries(resource)].map(([param, value]) => [param!, this.indexHash.of(value!)] as const);
    return [...new Set(acl)].flatMap((tenant) =>
      entries.map(([param, hashed]): [string, string, string, string, string] => [resource.resourceType, tenant, param, hashed, resource.id!]),
    );
  }

  /**
   * Rebuilds the search index of every stored resource when it follows an older definition than
   * SEARCH_INDEX_VERSION; otherwise does nothing. One transaction holding the version row, so that
   * instances starting together do it once; resources are locked while reindexed, so a concurrent
   * write waits and then indexes its own version. Returns how many resources were reindexed.
   */
  async reindexIfOutdated(): Promise<number> {
    return transaction(this.db, async (sql) => {
      const { rows: [state] } = await sql.query<{ version: number }>('SELECT version FROM search_index_version FOR UPDATE');
      if (state && state.version >= SEARCH_INDEX_VERSION) return 0;
      let reindexed = 0;
      let after = ['', ''];
      for (;;) {
        const { rows } = await sql.query<{ resource_type: string; id: string; last_updated: Date; acl: string[]; content: Resource }>(
          `SELECT resource_type, id, last_updated, acl, content FROM resource WHERE (resource_type, id) > ($1, $2)
           ORDER BY resource_type, id LIMIT 500 FOR SHARE`,
          after,
        );
        const last = rows[rows.length - 1];
        if (!last) break;
        await sql.query('DELETE FROM search_index s USING unnest($1::text[], $2::text[]) AS w(t, i) WHERE s.resource_type = w.t AND s.id = w.i', [
          rows.map((row) => row.resource_type),
          rows.map((row) => row.id),
        ]);
        const index = rows.flatMap((row) => this.indexRows(row.content, row.acl).map((entry) => [...entry, row.last_updated.toISOString()]));
        await sql.query(
          `INSERT INTO search_index (resource_type, tenant, param, value, id, last_updated)
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[])`,
          [0, 1, 2, 3, 4, 5].map((column) => index.map((entry) => entry[column])),
        );
        reindexed += rows.length;
        after = [last.resource_type, last.id];
      }
      await sql.query('DELETE FROM search_index_version');
      await sql.query('INSERT INTO search_index_version (version) VALUES ($1)', [SEARCH_INDEX_VERSION]);
      return reindexed;
    });
  }

  /**
   * Erases resources for good: every version and index entry, with the idempotency records they own
   * and `effects` (timers, documents), in one transaction.
   */
  async erase(refs: Array<[type: string, id: string]>, effects: Effect[] = []): Promise<void> {
    await transaction(this.db, async (sql) => {
      await this.deleteResources(sql, refs);
      await runEffects(sql, effects);
    });
  }

  /**
   * Erases, within another erasure, those of `refs` that nothing uses any more. They are locked
   * first, so a writer that relies on one (`unchanged`, or an update) either committed before —
   * and `inUse`, asked afterwards, sees its use — or waits and then finds it gone (a conflict).
   */
  eraseUnused(refs: Array<[type: string, id: string]>, inUse: (sql: Sql) => Promise<Array<[type: string, id: string]>>): Effect {
    return async (sql) => {
      if (refs.length === 0) return;
      await sql.query(
        `SELECT 1 FROM resource r JOIN unnest($1::text[], $2::text[]) AS w(t, i) ON r.resource_type = w.t AND r.id = w.i ORDER BY r.resource_type, r.id FOR UPDATE OF r`,
        [refs.map(([type]) => type), refs.map(([, id]) => id)],
      );
      const used = new Set((await inUse(sql)).map(([type, id]) => `${type}/${id}`));
      await this.deleteResources(sql, refs.filter(([type, id]) => !used.has(`${type}/${id}`)));
    };
  }

  private async deleteResources(sql: Sql, refs: Array<[type: string, id: string]>): Promise<void> {
    if (refs.length === 0) return;
    const types = refs.map(([type]) => type);
    const ids = refs.map(([, id]) => id);
    // The resource rows first: deleting them waits for any update in flight, so the history and
    // index rows that update writes are there for the deletes after it (each its own snapshot).
    for (const table of ['resource', 'resource_version', 'search_index']) {
      await sql.query(`DELETE FROM ${table} x USING unnest($1::text[], $2::text[]) AS w(t, i) WHERE x.resource_type = w.t AND x.id = w.i`, [types, ids]);
    }
    await sql.query('DELETE FROM idempotency WHERE owner = ANY($1::text[])', [refs.map(([type, id]) => `${type}/${id}`)]);
  }

  /**
   * Read-modify-write with optimistic concurrency: `change` gets the current version and returns
   * the next content (or undefined to leave it); on a concurrent write it runs again on the newer one.
   */
  async update<T extends Resource>(
    type: string,
    id: string,
    change: (current: Stored<T>) => T | undefined,
    options: { effects?: (next: T) => Statement[] } = {},
  ): Promise<{ before: Stored<T>; after: Stored<T> } | undefined> {
    for (;;) {
      const current = await this.read<T>(type, id);
      if (!current) return undefined;
      const next = change(current);
      if (!next) return { before: current, after: current };
      const result = await this.commit({ writes: [{ resource: next, previous: current, acl: current.acl }], effects: options.effects?.(next) });
      if (result.outcome === 'committed') return { before: current, after: { resource: result.resources[0] as T, acl: current.acl } };
    }
  }

  async search(query: SearchQuery): Promise<SearchResult> {
    const statement = new StatementBuilder();
    // $1 throughout: the type.
    statement.bind(query.type);
    const bind = (value: unknown) => statement.bind(value);
    // An operator, or the service itself, searches every tenancy: one index range per tenant (a
    // resource that several may see is one match in each, so the matches are made distinct).
    const tenancy = query.tenant !== undefined ? bind(query.tenant) : `ANY(ARRAY(${TENANTS_OF_TYPE}))`;
    const filters = query.filters.length > 0 || query.ids ? query.filters : [[[ANY, ''] as [string, string]]];
    // One value is an equality, so that the index gives its range in order (PostgreSQL 15 reads
    // `= ANY` on a later index column as a filter over the whole parameter when it needs the order).
    const valueCondition = (row: string, values: string[]) => (values.length === 1 ? `${row}.value = ${bind(values[0])}` : `${row}.value = ANY(${bind(values)}::text[])`);
    const parameters: Array<{ param: string; values: string[]; ids?: string[] }> = filters.map((alternatives) => ({
      param: alternatives[0]![0],
      values: [...new Set(alternatives.map(([, value]) => this.indexHash.of(value)))],
    }));
    // `_id`: the resource's `_any` row in each tenancy searched, found through (resource_type, id).
    if (query.ids) parameters.push({ param: ANY, values: [this.indexHash.of('')], ids: query.ids });
    const { min, max, minExclusive, maxExclusive } = query.lastUpdated ?? {};
    const time: string[] = [];
    if (min !== undefined) {
      time.push(`f.last_updated ${minExclusive ? '>' : '>='} ${bind(new Date(min).toISOString())}`);
      time.push(`f.last_updated < ${STABLE_HORIZON}`);
    }
    if (max !== undefined) time.push(`f.last_updated ${maxExclusive ? '<' : '<='} ${bind(new Date(max).toISOString())}`);
    // The leading parameter's index range, in index order; each other parameter is one probe per
    // candidate (every index row of a resource carries its lastUpdated, so the probe is the whole
    // key). A page in one tenancy then costs what it shows, and the total what the leading range
    // holds; across tenancies, every tenant's range is read and sorted. `OFFSET 0` keeps each probe
    // a subplan run per candidate with its key: pulled up into a join, a planner short of statistics
    // (a table that just grew) was seen reading the whole range per candidate.
    const [lead, ...others] = [...parameters].sort((a, b) => leadingRank(a) - leadingRank(b));
    const ids = (row: string, filter: { ids?: string[] }) => (filter.ids ? ` AND ${row}.id = ANY(${bind(filter.ids)}::text[])` : '');
    const matches =
      `SELECT ${lead!.values.length > 1 || query.tenant === undefined ? 'DISTINCT ' : ''}f.id, f.last_updated FROM search_index f
       WHERE f.resource_type = $1 AND f.tenant = ${tenancy} AND f.param = ${bind(lead!.param)} AND ${valueCondition('f', lead!.values)}${ids('f', lead!)}${time.map((condition) => ` AND ${condition}`).join('')}` +
      others
        .map(
          (filter) =>
            ` AND EXISTS (SELECT 1 FROM search_index g WHERE g.resource_type = $1 AND g.tenant = f.tenant AND g.param = ${bind(filter.param)} AND ${valueCondition('g', filter.values)}${ids('g', filter)}
               AND g.last_updated = f.last_updated AND g.id = f.id OFFSET 0)`,
        )
        .join('');
    const countValues = [...statement.values];

    const descending = query.order !== 'asc';
    const direction = descending ? 'DESC' : 'ASC';
    // Each match's place in the order: its lastUpdated as of the snapshot. A resource written since
    // keeps the place of its version at the snapshot (one created since has none and waits for a new
    // search), so a client following `next` sees every match once, whatever is written meanwhile.
    let places = `SELECT m.id, m.last_updated AS place FROM (${matches}) m`;
    let paging = '';
    let snapshot = 'statement_timestamp()';
    if (query.cursor) {
      snapshot = `${bind(query.cursor.snapshot)}::timestamptz`;
      places = `SELECT m.id, m.last_updated AS place FROM (${matches}) m WHERE m.last_updated <= ${snapshot}
        UNION ALL
        SELECT m.id, (SELECT v.last_updated FROM resource_version v WHERE v.resource_type = $1 AND v.id = m.id AND v.last_updated <= ${snapshot}
                      ORDER BY v.version DESC LIMIT 1) AS place
        FROM (${matches}) m WHERE m.last_updated > ${snapshot}`;
      paging = ` WHERE p.place IS NOT NULL AND (p.place, p.id) ${descending ? '<' : '>'} (${bind(query.cursor.lastUpdated)}::timestamptz, ${bind(query.cursor.id)})`;
    }
    // The page is chosen first and only its resources are read: not every match's.
    const pageSql = `SELECT p.id, p.place, r.content, ${snapshot} AS snapshot
      FROM (SELECT p.id, p.place FROM (${places}) p${paging} ORDER BY p.place ${direction}, p.id ${direction} LIMIT ${bind(query.count + 1)}) p
      JOIN resource r ON r.resource_type = $1 AND r.id = p.id
      ORDER BY p.place ${direction}, p.id ${direction}`;
    const [page, counted] = await Promise.all([
      query.count > 0 ? this.db.query<{ id: string; place: Date; content: Resource; snapshot: Date }>(pageSql, statement.values) : Promise.resolve({ rows: [] }),
      this.db.query<{ total: string }>(`SELECT count(*) AS total FROM (${matches}) m`, countValues),
    ]);
    const rows = page.rows.slice(0, query.count);
    const last = rows[rows.length - 1];
    return {
      total: Number(counted.rows[0]!.total),
      resources: rows.map((row) => row.content),
      ...(page.rows.length > query.count && last
        ? { next: { lastUpdated: last.place.toISOString(), id: last.id, snapshot: query.cursor?.snapshot ?? last.snapshot.toISOString() } }
        : {}),
    };
  }
}
