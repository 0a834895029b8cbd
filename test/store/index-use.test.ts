import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { beforeAll, expect, test } from '@jest/globals';
import pg from 'pg';
import { STORED_TYPES } from '../../src/http/fhir/resource-types.js';
import { exampleReferral, PRACTICE_AGB } from '../fixtures/referral.js';
import { claimAndAnswer, submitReferral } from '../support/referrals.js';
import { withService } from '../support/service.js';

const TEAM = 'leiden-noord';
/** node-postgres's own conversion of a parameter to the text it sends (arrays, dates, JSON). */
const { prepareValue } = (pg as unknown as { utils: { prepareValue(value: unknown): unknown } }).utils;
const PORTAL_SECRET = 'index-use-secret';
/** Whole reads that are right, or known and owned elsewhere: [table, statement start, why]. */
const ACCEPTED: Array<[table: string, statement: RegExp, why: string]> = [
  ['audit_chain_head', /./, 'one row by construction (CHECK only_row)'],
  ['subscription', /./, 'one row per receiving system: a handful, read whole by its expiry sweep'],
  // The backlog gauge: the outbox holds only messages not yet handed on, so counting it whole is its size (by the table or any of its indexes).
  ...['outbox', 'outbox_pkey', 'outbox_due', 'outbox_task'].map((read): [string, RegExp, string] => [read, /^SELECT count\(\*\)::int AS waiting FROM outbox$/, 'the outbox backlog gauge']),
];

process.env.ZORGDOMEIN_HMAC_SECRET = PORTAL_SECRET;
const { service } = await withService({ env: { DEADLINE_CHECK_MS: '200' } });
let statements: Map<string, unknown[]>;

/**
 * Every data statement the service sends, with the parameters of its first use: the real pool of
 * the running service, watched, not replaced. Statements are told apart by their text.
 */
function watchStatements(pool: pg.Pool): Map<string, unknown[]> {
  const seen = new Map<string, unknown[]>();
  const record = (text: unknown, values: unknown) => {
    if (typeof text === 'string' && /^\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\b/i.test(text) && !seen.has(text)) seen.set(text, (values as unknown[]) ?? []);
  };
  const watched = new WeakSet<pg.PoolClient>();
  const poolQuery = pool.query.bind(pool) as (...args: unknown[]) => unknown;
  pool.query = ((...args: unknown[]) => {
    record(args[0], args[1]);
    return poolQuery(...args);
  }) as typeof pool.query;
  const connect = pool.connect.bind(pool) as (...args: unknown[]) => Promise<pg.PoolClient>;
  pool.connect = (async (...args: unknown[]) => {
    // pool.query checks out its client with a callback; that path is already recorded above.
    if (args.length > 0) return connect(...args);
    const client = await connect();
    if (!watched.has(client)) {
      watched.add(client);
      const clientQuery = client.query.bind(client) as (...args: unknown[]) => unknown;
      client.query = ((...args: unknown[]) => {
        record(args[0], args[1]);
        return clientQuery(...args);
      }) as typeof client.query;
    }
    return client;
  }) as typeof pool.connect;
  return seen;
}

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Index Cond'?: string;
  Plans?: PlanNode[];
}
/**
 * Where a plan reads a whole table: a sequential scan, or an index scan without an index condition
 * (the whole index in key order, which is what the planner falls back to when only a later column
 * of an index matches).
 */
const wholeTableReads = (node: PlanNode, partialIndexes: string[]): string[] => [
  ...(node['Node Type'] === 'Seq Scan' && node['Relation Name'] ? [node['Relation Name']] : []),
  // A partial index holds only the rows its predicate selects: reading all of it is a range.
  ...(/Index/.test(node['Node Type']) && !node['Index Cond'] && !partialIndexes.includes(node['Index Name']!)
    ? [`${node['Relation Name'] ?? node['Index Name']} (whole index ${node['Index Name']})`]
    : []),
  ...(node.Plans ?? []).flatMap((child) => wholeTableReads(child, partialIndexes)),
];

beforeAll(() => {
  statements = watchStatements(service.app.services.db);
});

async function exerciseEverything() {
  const gp = await service.token('gp', PRACTICE_AGB);
  const coach = await service.token('coach', TEAM);
  const operator = await service.token('operator', 'regio');
  const portal = await service.token('portal', 'zorgdomein');

  // Intake on each channel, a repeat, and the work that follows: queue, feedback, timers, outbox.
  const referrals = [await submitReferral(service, gp), await submitReferral(service, gp), await submitReferral(service, gp)];
  const repeat = await service.request('POST', '/referrals', { token: gp, body: exampleReferral({ referralId: referrals[0]!.referralId }) });
  expect(repeat.status).toBe(200);
  const document = JSON.parse(readFileSync('test/fixtures/portal/r4-verwijzing.json', 'utf8'));
  document.identifier.value = 'ZD-DOC-INDEX-USE';
  document.entry[0].resource.identifier.value = 'ZD-INDEX-USE';
  const body = JSON.stringify(document);
  const pushed = await service.request('POST', '/inbound/zorgdomein', {
    token: portal,
    rawBody: body,
    headers: { 'content-type': 'application/fhir+json', 'x-signature': `sha256=${createHmac('sha256', PORTAL_SECRET).update(body).digest('hex')}` },
  });
  expect(pushed.status).toBe(202);
  await claimAndAnswer(service, coach, referrals[0]!.taskId);
  await service.request('PATCH', `/fhir/Task/${referrals[0]!.taskId}`, {
    token: coach,
    rawBody: JSON.stringify([{ op: 'replace', path: '/status', value: 'completed' }]),
    headers: { 'content-type': 'application/json-patch+json' },
  });

  // Every search the CapabilityStatement offers, as an operator (all tenants) and as a practice,
  // with one value, with alternatives, and combined with _lastUpdated both ways.
  const metadata = (await service.request('GET', '/fhir/metadata')).body;
  const valueFor: Record<string, string[]> = {
    token: ['requested', 'requested,accepted'],
    reference: ['Organization/team-leiden-noord', 'Patient/a,Patient/b'],
    date: ['gt2020-01-01T00:00:00Z', 'lt2100-01-01T00:00:00Z'],
    string: ['Berg'],
  };
  // `_sort` is the one string parameter that is not a value to look for: both of its orders.
  const valuesOf = (param: { name: string; type: string }) => (param.name === '_sort' ? ['-_lastUpdated', '_lastUpdated'] : valueFor[param.type]);
  const searched: string[] = [];
  for (const resource of metadata.rest[0].resource as Array<{ type: string; searchParam?: Array<{ name: string; type: string }> }>) {
    if (!(STORED_TYPES as readonly string[]).includes(resource.type)) continue;
    const params = (resource.searchParam ?? []).filter((param) => !['_count', '_cursor'].includes(param.name));
    const queries = [
      '',
      ...params.flatMap((param) => (valuesOf(param) ?? [`unsupported-${param.type}`]).map((value) => `${param.name}=${encodeURIComponent(value)}`)),
      ...params.filter((param) => param.name !== '_lastUpdated').map((param) => `${param.name}=${encodeURIComponent(valuesOf(param)?.[0] ?? '')}&_lastUpdated=gt2020-01-01T00:00:00Z`),
    ];
    for (const query of queries) {
      for (const token of [operator, gp]) {
        const answer = await service.request('GET', `/fhir/${resource.type}?${query}`, { token });
        expect({ query: `${resource.type}?${query}`, status: answer.status === 403 ? 200 : answer.status }).toEqual({ query: `${resource.type}?${query}`, status: 200 });
      }
      searched.push(`${resource.type}?${query}`);
    }
  }
  expect(searched.length).toBeGreaterThan(30);

  // Paging: a next page (keyset cursor with its snapshot), oldest first as the queue rebuild reads.
  const first = await service.request('GET', '/fhir/Task?_count=1', { token: operator });
  const next = first.body.link.find((link: { relation: string }) => link.relation === 'next').url.replace('http://wor-bridge.test', '');
  expect((await service.request('GET', next, { token: operator })).status).toBe(200);

  // Reads, versions and history, includes.
  const taskId = referrals[0]!.taskId;
  for (const path of [`/fhir/Task/${taskId}`, `/fhir/Task/${taskId}/_history/1`, `/fhir/Task/${taskId}/_history`, `/fhir/Task?_id=${taskId}&_include=Task:focus`]) {
    await service.request('GET', path, { token: operator });
  }

  // Operator views: audit trail by patient and client, its verification, deliveries, failed documents, queue counts, metrics.
  const patient = (await service.request('GET', `/fhir/Task/${taskId}`, { token: operator })).body.for.reference;
  for (const path of [`/operator/audit?patient=${patient}`, '/operator/audit?client=x', '/operator/audit/verify', '/operator/deliveries', '/operator/inbound', `/queues/${TEAM}`, '/metrics']) {
    expect({ path, status: (await service.request('GET', path, { token: operator })).status }).toEqual({ path, status: 200 });
  }

  // The background work: outbox relay, deadline sweep, Redis rebuild, retention.
  await service.redis.del(`${service.prefix}:epoch`);
  await service.app.services.redisRecovery.check();
  await new Promise((resolve) => setTimeout(resolve, 2500));
  await service.app.services.retention.sweep(new Date(Date.now() + 60_000));
}

test('every statement the service runs — each search it offers, intake, queue, outbox, timers, audit, retention, Redis rebuild — is answered from an index range, never a read of a whole table, in the plan for its values and in the generic plan PostgreSQL may keep', async () => {
  await exerciseEverything();
  expect(statements.size).toBeGreaterThan(40);

  // With sequential scans priced out, the planner still takes one where no index can answer the
  // statement: that is what this finds, independent of how few rows the test store holds.
  const client = await service.db.connect();
  const scans: Array<{ statement: string; tables: string[] }> = [];
  try {
    const { rows: partial } = await client.query<{ indexname: string }>(`SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND indexdef LIKE '% WHERE %'`);
    const partialIndexes = partial.map((row) => row.indexname);
    for (const [text, values] of statements) {
      // Both plans the service may run: one for these values, and the generic one PostgreSQL keeps
      // for a prepared statement after five runs (EXPLAIN EXECUTE of the prepared text).
      const plans: PlanNode[] = [];
      await client.query('BEGIN');
      await client.query('SET LOCAL enable_seqscan = off');
      const { rows } = await client.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(`EXPLAIN (FORMAT JSON) ${text}`, values);
      plans.push(rows[0]!['QUERY PLAN'][0]!.Plan);
      if (values.length > 0) {
        await client.query('SET LOCAL plan_cache_mode = force_generic_plan');
        await client.query(`PREPARE generic_probe AS ${text}`);
        const literals = values.map((value) => (value === null || value === undefined ? 'NULL' : client.escapeLiteral(String(prepareValue(value)))));
        const { rows: generic } = await client.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(`EXPLAIN (FORMAT JSON) EXECUTE generic_probe(${literals.join(', ')})`);
        plans.push(generic[0]!['QUERY PLAN'][0]!.Plan);
        await client.query('DEALLOCATE generic_probe');
      }
      await client.query('ROLLBACK');
      const tables = [...new Set(plans.flatMap((plan) => wholeTableReads(plan, partialIndexes)))].filter(
        (read) => !ACCEPTED.some(([table, statement]) => read.split(' ')[0] === table && statement.test(text.trim())),
      );
      if (tables.length > 0) scans.push({ statement: text.replace(/\s+/g, ' ').slice(0, 160), tables });
    }
  } finally {
    await client.query('ROLLBACK').catch(() => undefined);
    client.release();
  }
  expect(scans).toEqual([]);
}, 90_000);

test('whether a newer referral uses the same practitioner is one index probe, however many referrals of the practice there are', async () => {
  // Asked only when a referral brings other details of its practitioner than those stored.
  const gp = await service.token('gp', PRACTICE_AGB);
  const renamed = exampleReferral({ referralId: 'HIS-RENAMED-1', requester: { agb: '01012345', name: 'A. Jansen-de Wit', practice: { agb: PRACTICE_AGB, name: 'Huisartsenpraktijk De Linde' } } });
  expect((await service.request('POST', '/referrals', { token: gp, body: renamed })).status).toBe(201);
  const newerUse = [...statements].find(([text]) => /FROM referral_master_data u .*authored_on > \$3/s.test(text));
  expect(newerUse).toBeDefined();
  const [text, values] = newerUse!;
  // A busy practice: 2,000 earlier referrals name the same Practitioner, PractitionerRole and Organization.
  await service.db.query(
    `INSERT INTO referral_master_data (service_request, resource_type, id, authored_on)
     SELECT 'history-' || n, w.t, w.i, timestamptz '2020-01-01' FROM generate_series(1, 2000) AS n, unnest($1::text[], $2::text[]) AS w(t, i)`,
    [values[0], values[1]],
  );
  const rowsRemoved = (node: PlanNode & { 'Rows Removed by Filter'?: number; 'Actual Rows'?: number }): number =>
    (node['Rows Removed by Filter'] ?? 0) + (node.Plans ?? []).reduce((sum, child) => sum + rowsRemoved(child), 0);
  const { rows } = await service.db.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(`EXPLAIN (ANALYZE, FORMAT JSON) ${text}`, [values[0], values[1], '2026-01-01']);
  expect(rowsRemoved(rows[0]!['QUERY PLAN'][0]!.Plan)).toBe(0);
  await service.db.query(`DELETE FROM referral_master_data WHERE service_request LIKE 'history-%'`);
});

test('a coach searching the queue by owner and status reads the queue, not the team history, and each page reads only its own resources', async () => {
  const coach = await service.token('coach', TEAM);
  const gp = await service.token('gp', PRACTICE_AGB);
  for (let i = 0; i < 3; i += 1) await submitReferral(service, gp);
  // The statements of this one search: its page and its total.
  statements.clear();
  expect((await service.request('GET', `/fhir/Task?owner=Organization/team-${TEAM}&status=requested&_count=2`, { token: coach })).status).toBe(200);
  const searching = [...statements].filter(([statement]) => /search_index/.test(statement));
  expect(searching).toHaveLength(2);
  // Years of the team's Tasks that left the queue: 3,000 owner rows, none requested.
  await service.db.query(
    `INSERT INTO search_index (resource_type, tenant, param, value, last_updated, id)
     SELECT s.resource_type, s.tenant, s.param, s.value, timestamptz '2020-01-01' + n * interval '1 minute', 'history-' || n
     FROM (SELECT * FROM search_index WHERE resource_type = 'Task' AND tenant = $1 AND param = 'owner' LIMIT 1) AS s, generate_series(1, 3000) AS n`,
    [`coach:${TEAM}`],
  );
  try {
    const rowsRead = (node: PlanNode & { 'Actual Rows'?: number; 'Actual Loops'?: number }): number =>
      (node['Relation Name'] === 'search_index' ? (node['Actual Rows'] ?? 0) * (node['Actual Loops'] ?? 1) : 0) + (node.Plans ?? []).reduce((sum, child) => sum + rowsRead(child), 0);
    for (const [statement, values] of searching) {
      const { rows } = await service.db.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(`EXPLAIN (ANALYZE, FORMAT JSON) ${statement}`, values);
      expect(rowsRead(rows[0]!['QUERY PLAN'][0]!.Plan)).toBeLessThan(50);
    }
  } finally {
    await service.db.query(`DELETE FROM search_index WHERE id LIKE 'history-%'`);
  }
});
