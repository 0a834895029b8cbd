/**
 * `npm run bench:startup`: start-up time to /readyz and memory of one service process — idle, and at
 * its peak while FHIR transactions (each validated against base R4 and the profiles) arrive.
 * Starts a private redis-server and the service (by default the compiled build, `node dist/server.js`:
 * run `npm run build` first) on the PostgreSQL of BENCH_DATABASE_URL in a schema of its own, dropped
 * afterwards. BENCH_COMMAND and BENCH_CWD start something else (e.g. another checkout, to compare).
 * The first start migrates the empty schema; the later ones show a restart.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { startLocalRedis } from '../src/store/local-redis.js';
import { freePort } from '../src/store/local-server.js';
import { mintDevToken } from '../scripts/dev-token.js';
import { exampleTransaction } from '../test/fixtures/fhir-transaction.js';
import { benchServiceEnv, cpuMsOf, DATABASE_URL, rssOf, run } from './run.js';

const COMMAND = (process.env.BENCH_COMMAND ?? 'node dist/server.js').split(' ');
const CWD = resolve(process.env.BENCH_CWD ?? '.');
const STARTS = Number(process.env.BENCH_STARTS ?? 3);
const IDLE_SECONDS = 5;

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

const redis = await startLocalRedis({ dir: mkdtempSync(join(tmpdir(), 'wor-bench-startup-')) });
const schema = `bench_startup_${process.pid}`;
const port = await freePort();
const url = `http://127.0.0.1:${port}`;

async function startService() {
  const began = performance.now();
  const [program, ...args] = COMMAND as [string, ...string[]];
  const child = spawn(program, args, {
    cwd: CWD,
    env: { PATH: process.env.PATH, ...benchServiceEnv({ port, redisUrl: redis.url, schema }) },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  while (!(await fetch(`${url}/readyz`).then((response) => response.ok, () => false))) {
    if (child.exitCode !== null) throw new Error(`the service exited with ${child.exitCode}`);
    await sleep(20);
  }
  const readyMs = Math.round(performance.now() - began);
  const readyCpuMs = await cpuMsOf(child.pid!);
  const stop = async () => {
    const exited = new Promise((done) => child.once('exit', done));
    child.kill('SIGTERM');
    await exited;
  };
  return { pid: child.pid!, readyMs, readyCpuMs, stop };
}

try {
  const readyTimes: string[] = [];
  for (let start = 1; start < STARTS; start += 1) {
    const service = await startService();
    readyTimes.push(`${service.readyMs} (CPU ${service.readyCpuMs})`);
    await service.stop();
  }
  const service = await startService();
  readyTimes.push(`${service.readyMs} (CPU ${service.readyCpuMs})`);
  await sleep(IDLE_SECONDS * 1000);
  const idle = await rssOf(service.pid);

  const token = await mintDevToken({ role: 'gp', org: '01054321' });
  let sequence = 0;
  const load = await run('FHIR transaction: POST /fhir (validated against base R4 and the profiles)', service.pid, {
    url: `${url}/fhir`,
    method: 'POST',
    connections: 16,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json' },
    requests: [{ setupRequest: (request) => ({ ...request, body: JSON.stringify(exampleTransaction(`BENCH-${process.pid}-${(sequence += 1)}`)) }) }],
  });
  await service.stop();

  console.log(`load average when done: ${(await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ')}`);
  console.log(`command: ${COMMAND.join(' ')} (in ${CWD})`);
  console.log(`start-up to /readyz, ms wall clock (CPU time of the process): first (migrating an empty schema) ${readyTimes[0]}, then ${readyTimes.slice(1).join(', ')}`);
  console.log(`RSS idle (${IDLE_SECONDS} s after ready): ${Math.round(idle)} MB`);
  console.log(`under load: ${load.requestsPerSecond} transactions/s, p99 ${load.p99} ms, non-2xx ${load.non2xx}, errors ${load.errors}, peak RSS ${load.peakRssMb} MB`);
} finally {
  await redis.stop();
  const db = new pg.Client({ connectionString: DATABASE_URL });
  await db.connect();
  await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await db.end();
}
