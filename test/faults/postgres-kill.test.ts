import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, expect, test } from '@jest/globals';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { localPostgresDir, startLocalPostgres } from '../../src/store/local-postgres.js';
import { startLocalRedis } from '../../src/store/local-redis.js';
import { freePort, type LocalServer } from '../../src/store/local-server.js';
import { mintDevToken } from '../../scripts/dev-token.js';
import { exampleReferral, PRACTICE_AGB } from '../fixtures/referral.js';
import { schemaOf } from '../support/service.js';
import { startServiceProcess } from '../support/service-process.js';

const TEAM = 'leiden-noord';
const cleanup: Array<() => Promise<void>> = [];
afterAll(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const inLanes = (lanes: number, lane: () => Promise<void>) => Promise.all(Array.from({ length: lanes }, lane));

/**
 * kill -9 of the whole cluster, as a crash of its machine would: the postmaster and every process it
 * forked (backends, WAL writer, checkpointer), none of them given a chance to clean up.
 */
function killCluster(server: LocalServer): void {
  const postmaster = server.process.pid!;
  const children = readFileSync(`/proc/${postmaster}/task/${postmaster}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  process.kill(postmaster, 'SIGKILL');
  for (const child of children) {
    try {
      process.kill(child, 'SIGKILL');
    } catch {
      // already gone with its postmaster
    }
  }
}

/** Starts the cluster in `dir` again on its port: crash recovery replays the WAL. */
async function restartCluster(dir: string, port: number): Promise<LocalServer> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await startLocalPostgres({ dir, port });
    } catch (error) {
      // A killed backend may still be leaving the shared memory for a moment.
      if (attempt === 5) throw error;
      await pause(500);
    }
  }
}

interface Answer {
  status: number;
  retryAfter: string | null;
  body: any;
}

async function call(url: string, token: string, method: string, path: string, body?: unknown): Promise<Answer> {
  try {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await response.text();
    return { status: response.status, retryAfter: response.headers.get('retry-after'), body: text ? JSON.parse(text) : undefined };
  } catch {
    return { status: 0, retryAfter: null, body: undefined };
  }
}

test('kill -9 of PostgreSQL under intake load while the queue drains: 503 with Retry-After while it is away, recovery without a restart, every acknowledged referral stored once and accepted exactly once', async () => {
  const pgDir = mkdtempSync(join(tmpdir(), 'wor-pg-kill-'));
  const pgPort = await freePort();
  let postgres = await startLocalPostgres({ dir: pgDir, port: pgPort });
  cleanup.push(async () => {
    await postgres.stop();
    rmSync(localPostgresDir(pgDir), { recursive: true, force: true });
  });
  const redis = await startLocalRedis({ dir: mkdtempSync(join(tmpdir(), 'wor-pg-kill-redis-')) });
  cleanup.push(() => redis.stop('SIGKILL'));
  const prefix = `pgkill-${randomUUID().slice(0, 6)}`;
  // Short leases: a claim whose ack the outage swallowed comes back to the queue within the test.
  const service = await startServiceProcess({ REDIS_URL: redis.url, REDIS_KEY_PREFIX: prefix, DATABASE_URL: postgres.url, QUEUE_LEASE_SECONDS: '4' });
  cleanup.push(() => service.kill('SIGKILL'));

  const gp = await mintDevToken({ role: 'gp', org: PRACTICE_AGB });
  const coach = await mintDevToken({ role: 'coach', org: TEAM });
  const statuses: number[] = [];
  const referrals = new Map<string, { status: number; taskId?: string }>();
  const submit = async (referralId: string) => {
    const answer = await call(service.url, gp, 'POST', '/referrals', exampleReferral({ referralId }));
    statuses.push(answer.status);
    const taskId: string | undefined = answer.body?.entry?.find((entry: { resource: { resourceType: string } }) => entry.resource.resourceType === 'Task')?.resource.id;
    referrals.set(referralId, { status: answer.status, taskId });
    return answer;
  };
  for (let i = 0; i < 10; i += 1) await submit(`PGKILL-${randomUUID()}`);

  // The coach system: claims and accepts, and remembers which Task each successful ack closed.
  const accepted = new Map<string, number>();
  const claimedAfterAccept: string[] = [];
  const drainOnce = async (wait: number) => {
    const claim = await call(service.url, coach, 'POST', `/queues/${TEAM}/claim?wait=${wait}`);
    statuses.push(claim.status);
    if (claim.status !== 200) return claim.status;
    const taskId: string = claim.body.bundle.entry[0].resource.id;
    if (accepted.has(taskId)) claimedAfterAccept.push(taskId);
    const ack = await call(service.url, coach, 'POST', `/queues/${TEAM}/leases/${claim.body.lease.id}/ack`, { status: 'accepted' });
    statuses.push(ack.status);
    if (ack.status === 200) accepted.set(taskId, (accepted.get(taskId) ?? 0) + 1);
    return claim.status;
  };

  let stopped = false;
  const lanes = [
    ...Array.from({ length: 4 }, async () => {
      while (!stopped) if ((await submit(`PGKILL-${randomUUID()}`)).status !== 201) await pause(100);
    }),
    ...Array.from({ length: 2 }, async () => {
      while (!stopped) if ((await drainOnce(0)) !== 200) await pause(100);
    }),
  ];
  // However the test ends, the lanes stop with it.
  cleanup.push(async () => {
    stopped = true;
    await Promise.all(lanes);
  });

  await pause(1500);
  killCluster(postgres);
  await pause(500);

  // While the database is away: not ready, and a write is refused with a precise transient answer.
  const ready = await fetch(`${service.url}/readyz`);
  expect(ready.status).toBe(503);
  const refused = await call(service.url, gp, 'POST', '/referrals', exampleReferral({ referralId: `PGKILL-DOWN-${randomUUID()}` }));
  expect(refused.status).toBe(503);
  expect(Number(refused.retryAfter)).toBeGreaterThan(0);
  expect(refused.body?.resourceType).toBe('OperationOutcome');
  const search = await call(service.url, coach, 'GET', `/fhir/Task?owner=Organization/team-${TEAM}&status=requested`);
  expect(search.status).toBe(503);
  expect(search.retryAfter).not.toBeNull();
  await pause(1000);

  postgres = await restartCluster(pgDir, pgPort);
  const readyBy = Date.now() + 20_000;
  while ((await fetch(`${service.url}/readyz`)).status !== 200 && Date.now() < readyBy) await pause(200);
  expect((await fetch(`${service.url}/readyz`)).status).toBe(200);
  // The same process takes referrals again.
  const before = statuses.length;
  await pause(1000);
  stopped = true;
  await Promise.all(lanes);
  expect(statuses.slice(before).filter((status) => status === 201).length).toBeGreaterThan(0);
  // Nothing but success, a transient refusal, a lost connection or a lease that ran out meanwhile.
  expect([...new Set(statuses)].filter((status) => ![0, 200, 201, 204, 409, 503].includes(status))).toEqual([]);

  // A client that never heard back retries with the same referral id, and gets its one referral.
  const unanswered = [...referrals].filter(([, answer]) => answer.status !== 201).map(([referralId]) => referralId);
  await inLanes(4, async () => {
    for (let referralId = unanswered.pop(); referralId; referralId = unanswered.pop()) expect([200, 201]).toContain((await submit(referralId)).status);
  });

  // Drain what is left: leases the outage interrupted come back when they run out.
  const db = new pg.Pool({ connectionString: postgres.url, options: `-c search_path=${schemaOf(prefix)}`, max: 1 });
  cleanup.push(() => db.end());
  const open = async () =>
    (await db.query<{ id: string; status: string }>(`SELECT id, content->>'status' AS status FROM resource WHERE resource_type = 'Task' AND content->>'status' <> 'accepted'`)).rows;
  const drainBy = Date.now() + 60_000;
  await inLanes(4, async () => {
    while ((await open()).length > 0 && Date.now() < drainBy) if ((await drainOnce(1)) !== 200) await pause(200);
  });
  const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
  const queue = new Queue(`team-${TEAM}`, { connection, prefix: `${prefix}:bull` });
  cleanup.push(async () => {
    await queue.close();
    connection.disconnect();
  });
  // What is left open, with where its job is, tells which hand-over the outage broke.
  expect(await Promise.all((await open()).map(async (task) => ({ ...task, job: await queue.getJobState(task.id) })))).toEqual([]);

  // Stored exactly once: one ServiceRequest per referral id, a whole referral each.
  const { rows: identifiers } = await db.query<{ value: string }>(
    `SELECT json_array_elements(content->'identifier')->>'value' AS value FROM resource WHERE resource_type = 'ServiceRequest'`,
  );
  const stored = new Map<string, number>();
  for (const { value } of identifiers) stored.set(value, (stored.get(value) ?? 0) + 1);
  const acknowledged = [...referrals].filter(([, answer]) => answer.status === 201 || answer.status === 200);
  expect(acknowledged.length).toBeGreaterThan(20);
  expect(acknowledged.map(([referralId]) => [referralId, stored.get(referralId)])).toEqual(acknowledged.map(([referralId]) => [referralId, 1]));
  expect([...stored.values()].filter((count) => count !== 1)).toEqual([]);
  const { rows: counts } = await db.query<{ resource_type: string; n: string }>(`SELECT resource_type, count(*) AS n FROM resource GROUP BY resource_type`);
  const count = (type: string) => Number(counts.find((row) => row.resource_type === type)?.n ?? 0);
  expect(count('Task')).toBe(stored.size);
  // Every referral is of the same patient (one BSN): master data is written once, however the writes raced the kill.
  expect(count('Patient')).toBe(1);

  // Accepted exactly once: each Task went to `accepted` in one version, no ack succeeded twice, and
  // no Task was handed out again after its acceptance.
  const { rows: versions } = await db.query<{ id: string; status: string }>(
    `SELECT id, content->>'status' AS status FROM resource_history WHERE resource_type = 'Task' ORDER BY id, version`,
  );
  const acceptances = new Map<string, number>();
  versions.forEach((row, i) => {
    const previous = versions[i - 1];
    if (row.status === 'accepted' && !(previous?.id === row.id && previous.status === 'accepted')) acceptances.set(row.id, (acceptances.get(row.id) ?? 0) + 1);
  });
  expect(acceptances.size).toBe(stored.size);
  expect([...acceptances.values()].filter((n) => n !== 1)).toEqual([]);
  expect([...accepted.values()].filter((n) => n !== 1)).toEqual([]);
  expect(claimedAfterAccept).toEqual([]);
  for (const [, { taskId }] of acknowledged) if (taskId) expect(acceptances.get(taskId)).toBe(1);
}, 150_000);
