/**
 * One command: `npm run bench`. Starts a private redis-server (AOF, noeviction) and the service as
 * a child process, then drives it with autocannon (64 connections, no pipelining) and prints
 * throughput and latency of each scenario beside a baseline measured in the same run:
 * the same server answering a trivial authenticated route (GET /auth/whoami, no Redis).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { freePort, startLocalRedis } from '../src/store/local-redis.js';
import { mintDevToken } from '../scripts/dev-token.js';
import { exampleReferral } from '../test/fixtures/referral.js';

export const DURATION = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const TEAM = 'leiden-noord';

export interface Row {
  scenario: string;
  requestsPerSecond: number;
  p50: number;
  p99: number;
  max: number;
  non2xx: number;
  errors: number;
  peakRssMb: number;
}

async function rssOf(pid: number): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

export async function run(scenario: string, pid: number, options: autocannon.Options): Promise<Row> {
  let peak = 0;
  const sampler = setInterval(async () => (peak = Math.max(peak, await rssOf(pid))), 250);
  const result = await autocannon({ connections: CONNECTIONS, pipelining: 1, duration: DURATION, ...options });
  clearInterval(sampler);
  return {
    scenario,
    requestsPerSecond: Math.round(result.requests.average),
    p50: result.latency.p50,
    p99: result.latency.p99,
    max: result.latency.max,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    peakRssMb: Math.round(peak),
  };
}

/** A private redis-server and the service as a child process, both stopped by `stop()`. */
export async function startBenchService(): Promise<{ url: string; pid: number; redisUrl: string; stop(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'wor-bench-'));
  const redis = await startLocalRedis({ dir });
  const port = await freePort();
  const nodeArgs = process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const service = spawn('node', [...nodeArgs, '--import', 'tsx', 'src/server.ts'], {
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      REDIS_URL: redis.url,
      WOR_DIRECTORY: 'config/directory.example.yaml',
      AUTH_JWKS_FILE: 'config/dev/jwks.json',
      AUTH_ISSUER: 'https://wor-bridge.local/dev-issuer',
      AUTH_AUDIENCE: 'wor-bridge',
      LOG_LEVEL: 'warn',
      RATE_LIMIT_PER_MINUTE: '100000000',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i += 1) {
    if (await fetch(`${url}/readyz`).then((response) => response.ok, () => false)) break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return {
    url,
    pid: service.pid!,
    redisUrl: redis.url,
    stop: async () => {
      service.kill('SIGTERM');
      await new Promise((resolve) => service.once('exit', resolve));
      await redis.stop();
    },
  };
}

export const referralBody = (prefix: string) => {
  let sequence = 0;
  return () => JSON.stringify(exampleReferral({ referralId: `${prefix}-${Date.now()}-${(sequence += 1)}` }));
};

async function main() {
  const { url, pid, stop } = await startBenchService();
  const gp = `Bearer ${await mintDevToken({ role: 'gp', org: '01054321', expires: '2h' })}`;
  const coach = `Bearer ${await mintDevToken({ role: 'coach', org: TEAM, expires: '2h' })}`;
  const rows: Row[] = [];
  try {
    rows.push(await run('baseline: GET /auth/whoami (authenticated, no Redis)', pid, { url: `${url}/auth/whoami`, headers: { authorization: gp } }));

    const nextReferral = referralBody('BENCH');
    rows.push(
      await run('intake: POST /referrals', pid, {
        url,
        requests: [{ method: 'POST', path: '/referrals', headers: { authorization: gp, 'content-type': 'application/json' }, setupRequest: (request) => ({ ...request, body: nextReferral() }) }],
      }),
    );

    rows.push(
      await run('claim + ack round trip (2 requests)', pid, {
        url,
        requests: [
          {
            method: 'POST',
            path: `/queues/${TEAM}/claim`,
            headers: { authorization: coach },
            onResponse: (status, body, context: { lease?: string }) => {
              context.lease = status === 200 ? (JSON.parse(body) as { lease: { id: string } }).lease.id : undefined;
            },
          },
          {
            method: 'POST',
            headers: { authorization: coach, 'content-type': 'application/json' },
            body: JSON.stringify({ status: 'accepted' }),
            setupRequest: (request, context: { lease?: string }) => (context.lease ? { ...request, path: `/queues/${TEAM}/leases/${context.lease}/ack` } : undefined),
          },
        ] as autocannon.Request[],
      }),
    );

    rows.push(await run('FHIR search: GET /fhir/Task?owner=...&status=accepted', pid, { url: `${url}/fhir/Task?owner=team-${TEAM}&status=accepted&_count=10`, headers: { authorization: coach } }));
    rows.push(
      await run('Communication pull: GET /fhir/Communication?_lastUpdated=gt...', pid, {
        url: `${url}/fhir/Communication?_lastUpdated=gt${new Date(Date.now() - 3_600_000).toISOString()}&_count=10`,
        headers: { authorization: gp },
      }),
    );
  } finally {
    await stop();
  }

  const table = [
    `| scenario | req/s | p50 ms | p99 ms | max ms | non-2xx | errors | peak RSS MB |`,
    `|---|---:|---:|---:|---:|---:|---:|---:|`,
    ...rows.map((row) => `| ${row.scenario} | ${row.requestsPerSecond} | ${row.p50} | ${row.p99} | ${row.max} | ${row.non2xx} | ${row.errors} | ${row.peakRssMb} |`),
  ].join('\n');
  console.log(`\n${CONNECTIONS} connections, ${DURATION} s per scenario, no pipelining\n\n${table}\n`);
  mkdirSync('bench/results', { recursive: true });
  writeFileSync('bench/results/latest.json', JSON.stringify({ at: new Date().toISOString(), connections: CONNECTIONS, durationSeconds: DURATION, rows }, null, 2));
}

if (process.argv[1]?.endsWith('run.ts')) {
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
