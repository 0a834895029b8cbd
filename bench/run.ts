/**
 * One command: `npm run bench`. Starts a private redis-server (AOF, noeviction) and the service as
 * a child process on the PostgreSQL of BENCH_DATABASE_URL (a schema of its own, dropped afterwards), then drives it with autocannon (64 connections, no pipelining) and prints
 * throughput and latency of each scenario beside a baseline measured in the same run:
 * the same server answering a trivial authenticated route (GET /auth/whoami, no Redis).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import pg from 'pg';
import { startLocalRedis } from '../src/store/local-redis.js';
import { freePort } from '../src/store/local-server.js';
import { mintDevToken } from '../scripts/dev-token.js';
import { exampleReferral } from '../test/fixtures/referral.js';

export const DURATION = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const TEAM = 'leiden-noord';

export interface Row {
  scenario: string;
  requestsPerSecond: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  non2xx: number;
  errors: number;
  peakRssMb: number;
  /** The service process's CPU time per request: steadier than throughput on a shared machine. */
  cpuMsPerRequest: number;
  requests: number;
}

/** Resident memory of a process, in MB. */
export async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

/** User and system CPU time of a process so far, in ms (clock ticks of 10 ms). */
export async function cpuMsOf(pid: number): Promise<number> {
  // The command name may itself hold ") ": read the fields after its last one.
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).replace(/^.*\) /, '').split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/**
 * Seconds each scenario runs before it is measured, its results discarded: the first requests of a
 * scenario open the pool's PostgreSQL connections and compile its code paths, which a p99 of a few
 * seconds would otherwise report as the service's latency.
 */
const WARMUP = Number(process.env.BENCH_WARMUP_SECONDS ?? 2);

export async function run(scenario: string, pid: number, options: autocannon.Options): Promise<Row> {
  if (WARMUP > 0) await autocannon({ connections: CONNECTIONS, pipelining: 1, ...options, duration: WARMUP });
  let peak = 0;
  const sampler = setInterval(async () => (peak = Math.max(peak, await rssOf(pid))), 250);
  const cpuBefore = await cpuMsOf(pid);
  const result = await autocannon({ connections: CONNECTIONS, pipelining: 1, duration: DURATION, ...options });
  const cpu = (await cpuMsOf(pid)) - cpuBefore;
  clearInterval(sampler);
  return {
    scenario,
    requestsPerSecond: Math.round(result.requests.average),
    p50: result.latency.p50,
    p90: result.latency.p90,
    p99: result.latency.p99,
    max: result.latency.max,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    peakRssMb: Math.round(peak),
    cpuMsPerRequest: Math.round((cpu / Math.max(1, result.requests.total)) * 100) / 100,
    requests: result.requests.total,
  };
}

export const DATABASE_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/**
 * The configuration a benchmarked service runs with: its own port, Redis and schema, the development
 * keys and directory (absolute paths, so a service started in another checkout finds them), quiet logs
 * and no rate limit in the way.
 */
export function benchServiceEnv({ port, redisUrl, schema }: { port: number; redisUrl: string; schema: string }): Record<string, string> {
  return {
    PORT: String(port),
    HOST: '127.0.0.1',
    REDIS_URL: redisUrl,
    DATABASE_URL,
    DATABASE_SCHEMA: schema,
    WOR_SECRET: 'bench-secret-bench-secret-bench-secret',
    WOR_DIRECTORY: resolve('config/directory.example.yaml'),
    AUTH_JWKS_FILE: resolve('config/dev/jwks.json'),
    AUTH_ISSUER: 'https://wor-bridge.local/dev-issuer',
    AUTH_AUDIENCE: 'wor-bridge',
    LOG_LEVEL: 'warn',
    RATE_LIMIT_PER_MINUTE: '100000000',
  };
}

/** A private redis-server and the service as a child process, both stopped by `stop()`. */
export async function startBenchService(): Promise<{ url: string; pid: number; redisUrl: string; schema: string; stop(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'wor-bench-'));
  const schema = `bench_${process.pid}_${Date.now()}`;
  const redis = await startLocalRedis({ dir });
  const port = await freePort();
  const nodeArgs = process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  // BENCH_CWD runs the service of another checkout under the same load, to compare before and after.
  const service = spawn('node', [...nodeArgs, '--import', 'tsx', 'src/server.ts'], {
    cwd: resolve(process.env.BENCH_CWD ?? '.'),
    env: { ...process.env, ...benchServiceEnv({ port, redisUrl: redis.url, schema }) },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  // Measuring a service that is still starting says nothing: wait for it (long, on a shared machine).
  const readyBy = Date.now() + 120_000;
  while (!(await fetch(`${url}/readyz`).then((response) => response.ok, () => false))) {
    if (service.exitCode !== null || Date.now() > readyBy) {
      // Nothing of a failed start stays behind: a redis-server left running skews every later run.
      service.kill('SIGKILL');
      await redis.stop();
      throw new Error('the service did not become ready');
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return {
    url,
    pid: service.pid!,
    redisUrl: redis.url,
    schema,
    stop: async () => {
      if (service.exitCode === null) {
        service.kill('SIGTERM');
        await new Promise((resolve) => service.once('exit', resolve));
      }
      await redis.stop();
      const db = new pg.Client({ connectionString: DATABASE_URL });
      await db.connect();
      await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await db.end();
    },
  };
}

/** A BSN that passes the 11-test, one of its own for each n (up to 9 million). */
function nthBsn(n: number): string {
  for (let candidate = 10_000_000 + ((n * 10) % 89_999_990); ; candidate += 1) {
    const digits = [...String(candidate)].map(Number);
    const check = digits.reduce((sum, digit, index) => sum + digit * (9 - index), 0) % 11;
    if (check < 10) return `${candidate}${check}`;
  }
}

/**
 * Referrals as one practice sends them: each for a patient of its own (a BSN of its own), so that
 * intake creates a Patient as it mostly does, from the practice and GP the token names.
 */
export const referralBody = (prefix: string) => {
  let sequence = 0;
  const base = exampleReferral();
  return () => {
    sequence += 1;
    return JSON.stringify(exampleReferral({ referralId: `${prefix}-${Date.now()}-${sequence}`, patient: { ...base.patient, bsn: nthBsn((process.pid % 1000) * 9000 + sequence) } }));
  };
};

/** A coach taking the next referral of the team's queue and accepting it: two requests. */
export function claimAndAccept(coach: string, team = TEAM): autocannon.Request[] {
  return [
    {
      method: 'POST',
      path: `/queues/${team}/claim`,
      headers: { authorization: coach },
      onResponse: (status, body, context: { lease?: string }) => {
        context.lease = status === 200 ? (JSON.parse(body) as { lease: { id: string } }).lease.id : undefined;
      },
    },
    {
      method: 'POST',
      headers: { authorization: coach, 'content-type': 'application/json' },
      body: JSON.stringify({ status: 'accepted' }),
      setupRequest: (request, context: { lease?: string }) => (context.lease ? { ...request, path: `/queues/${team}/leases/${context.lease}/ack` } : undefined),
    },
  ] as autocannon.Request[];
}

/**
 * What Redis holds: `used_memory` (which also grows with script caches and client buffers), the
 * bytes of its keys by `MEMORY USAGE`, and how many team-queue jobs there are.
 */
async function redisFootprint(redisUrl: string): Promise<{ used: number; keyBytes: number; jobs: number }> {
  const redis = new Redis(redisUrl);
  const used = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1] ?? 0);
  let keyBytes = 0;
  let jobs = 0;
  for await (const keys of redis.scanStream({ count: 1000 }) as AsyncIterable<string[]>) {
    const pipeline = redis.pipeline();
    for (const key of keys) pipeline.memory('USAGE', key, 'SAMPLES', 0);
    for (const [, bytes] of (await pipeline.exec()) ?? []) keyBytes += Number(bytes ?? 0);
    jobs += keys.filter((key) => /:bull:team-[^:]+:[0-9a-f-]{36}$/.test(key)).length;
  }
  redis.disconnect();
  return { used, keyBytes, jobs };
}

/** What PostgreSQL holds: bytes of the schema and of its audit trail, referrals, Tasks still queued, audit events. */
async function postgresFootprint(schema: string): Promise<{ postgresBytes: number; auditBytes: number; referrals: number; queued: number; auditEvents: number }> {
  const db = new pg.Client({ connectionString: DATABASE_URL });
  await db.connect();
  const count = async (sql: string, values: unknown[] = []) => Number((await db.query<{ n: string }>(sql, values)).rows[0]?.n ?? 0);
  const relations = `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) AS n FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace WHERE s.nspname = $1`;
  const footprint = {
    postgresBytes: await count(`${relations} AND c.relkind IN ('r', 'p')`, [schema]),
    auditBytes: await count(`${relations} AND c.relkind = 'r' AND c.relname LIKE 'audit_event%'`, [schema]),
    referrals: await count(`SELECT count(*) AS n FROM ${schema}.resource WHERE resource_type = 'Task'`),
    queued: await count(`SELECT count(*) AS n FROM ${schema}.resource WHERE resource_type = 'Task' AND content->>'status' IN ('requested', 'received')`),
    auditEvents: await count(`SELECT count(*) AS n FROM ${schema}.audit_event`),
  };
  await db.end();
  return footprint;
}

/**
 * What the PostgreSQL server has done so far: WAL written (server-wide), and the CPU time of its
 * processes when it runs on this machine (0 when it runs elsewhere). Read before and after intake,
 * with nothing else using the server, the difference per referral is what intake costs it.
 */
async function postgresWork(): Promise<{ walBytes: number; cpuMs: number }> {
  const db = new pg.Client({ connectionString: DATABASE_URL });
  await db.connect();
  const walBytes = Number((await db.query<{ b: string }>(`SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0') AS b`)).rows[0]!.b);
  await db.end();
  let cpuMs = 0;
  for (const pid of (await readdir('/proc')).filter((name) => /^\d+$/.test(name))) {
    if ((await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '')).trim() === 'postgres') cpuMs += await cpuMsOf(Number(pid)).catch(() => 0);
  }
  return { walBytes, cpuMs };
}

const perItem = (bytes: number, items: number) => Math.round(bytes / Math.max(1, items));

async function main() {
  const { url, pid, redisUrl, schema, stop } = await startBenchService();
  const footprint: string[] = [];
  const gp = `Bearer ${await mintDevToken({ role: 'gp', org: '01054321', expires: '2h' })}`;
  const coach = `Bearer ${await mintDevToken({ role: 'coach', org: TEAM, expires: '2h' })}`;
  const rows: Row[] = [];
  try {
    // What an empty Redis holds once the service is up (its queues' metadata, scripts, clients): the
    // footprint below is what the work adds to it.
    const redisEmpty = await redisFootprint(redisUrl);
    rows.push(await run('baseline: GET /auth/whoami (authenticated, no Redis)', pid, { url: `${url}/auth/whoami`, headers: { authorization: gp } }));

    const nextReferral = referralBody('BENCH');
    const workBefore = await postgresWork();
    rows.push(
      await run('intake: POST /referrals', pid, {
        url,
        requests: [{ method: 'POST', path: '/referrals', headers: { authorization: gp, 'content-type': 'application/json' }, setupRequest: (request) => ({ ...request, body: nextReferral() }) }],
      }),
    );

    const work = await postgresWork();
    const afterIntake = { redis: await redisFootprint(redisUrl), ...(await postgresFootprint(schema)) };
    footprint.push(
      `after intake: ${afterIntake.queued} referrals queued, ${afterIntake.redis.jobs} jobs; Redis keys +${Math.round((afterIntake.redis.keyBytes - redisEmpty.keyBytes) / 1024)} KB ` +
        `(${perItem(afterIntake.redis.keyBytes - redisEmpty.keyBytes, afterIntake.queued)} B per queued referral; used_memory ${perItem(afterIntake.redis.used - redisEmpty.used, afterIntake.queued)} B, over the empty ${Math.round(redisEmpty.used / 1024)} KB); ` +
        `PostgreSQL ${Math.round(afterIntake.postgresBytes / 1024)} KB (${perItem(afterIntake.postgresBytes - afterIntake.auditBytes, afterIntake.referrals)} B per referral without the audit trail); ` +
        `per referral PostgreSQL wrote ${perItem(work.walBytes - workBefore.walBytes, afterIntake.referrals)} B of WAL and its processes here used ` +
        `${((work.cpuMs - workBefore.cpuMs) / Math.max(1, afterIntake.referrals)).toFixed(2)} ms of CPU`,
    );
    rows.push(await run('claim + ack round trip (2 requests)', pid, { url, requests: claimAndAccept(coach) }));

    const afterClaims = { redis: await redisFootprint(redisUrl), ...(await postgresFootprint(schema)) };
    footprint.push(
      `after claims and acks: ${afterClaims.referrals - afterClaims.queued} Tasks left the queue, ${afterClaims.queued} still queued, ${afterClaims.redis.jobs} jobs in Redis; ` +
        `Redis keys +${Math.round((afterClaims.redis.keyBytes - redisEmpty.keyBytes) / 1024)} KB over empty (${perItem(afterClaims.redis.keyBytes - redisEmpty.keyBytes, afterClaims.queued)} B per Task still queued, leases in flight included)`,
    );
    rows.push(await run('FHIR search: GET /fhir/Task?owner=...&status=accepted', pid, { url: `${url}/fhir/Task?owner=team-${TEAM}&status=accepted&_count=10`, headers: { authorization: coach } }));
    rows.push(
      await run('Communication pull: GET /fhir/Communication?_lastUpdated=gt...', pid, {
        url: `${url}/fhir/Communication?_lastUpdated=gt${new Date(Date.now() - 3_600_000).toISOString()}&_count=10`,
        headers: { authorization: gp },
      }),
    );
    const afterReads = { redis: await redisFootprint(redisUrl), ...(await postgresFootprint(schema)) };
    const reads = rows.slice(-2).reduce((sum, row) => sum + row.requests, 0);
    const readBytes = afterReads.redis.keyBytes - afterClaims.redis.keyBytes;
    footprint.push(
      `after ${reads} searches: Redis keys ${readBytes >= 0 ? '+' : ''}${readBytes} B (${(readBytes / Math.max(1, reads)).toFixed(2)} B per read); ` +
        `${afterReads.auditEvents} audit events, ${perItem(afterReads.auditBytes, afterReads.auditEvents)} B each in PostgreSQL (indexes included)`,
    );
  } finally {
    await stop();
  }

  const table = [
    `| scenario | req/s | p50 ms | p90 ms | p99 ms | max ms | non-2xx | errors | peak RSS MB | service CPU ms/req |`,
    `|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|`,
    ...rows.map(
      (row) =>
        `| ${row.scenario} | ${row.requestsPerSecond} | ${row.p50} | ${row.p90} | ${row.p99} | ${row.max} | ${row.non2xx} | ${row.errors} | ${row.peakRssMb} | ${row.cpuMsPerRequest} |`,
    ),
  ].join('\n');
  console.log(`\n${CONNECTIONS} connections, ${DURATION} s per scenario after ${WARMUP} s of warm-up, no pipelining\n\n${table}\n\n${footprint.join('\n')}\n`);
  mkdirSync('bench/results', { recursive: true });
  writeFileSync('bench/results/latest.json', JSON.stringify({ at: new Date().toISOString(), connections: CONNECTIONS, durationSeconds: DURATION, warmupSeconds: WARMUP, rows, footprint }, null, 2));
}

if (process.argv[1]?.endsWith('run.ts')) {
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
