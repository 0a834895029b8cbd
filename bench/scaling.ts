/**
 * `npm run bench:scaling`: how the cost grows with the store. Loads referrals up to 1k, 10k and
 * 100k (BENCH_SIZES), has the coaches accept all but the newest BENCH_QUEUED (100) of them, as a
 * team works its queue, and at each size measures searches and the Communication pull beside the
 * same baseline, plus Redis memory. Search latency should follow what a search finds (the queue),
 * not what the store holds (the history): indexes, not scans.
 */
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import { mintDevToken } from '../scripts/dev-token.js';
import { claimAndAccept, referralBody, run, startBenchService, type Row } from './run.js';

const SIZES = (process.env.BENCH_SIZES ?? '1000,10000,100000').split(',').map(Number);
const QUEUED = Number(process.env.BENCH_QUEUED ?? 100);

async function main() {
  const { url, pid, redisUrl, stop } = await startBenchService();
  const redis = new Redis(redisUrl);
  const gp = `Bearer ${await mintDevToken({ role: 'gp', org: '01054321', expires: '4h' })}`;
  const coach = `Bearer ${await mintDevToken({ role: 'coach', org: 'leiden-noord', expires: '4h' })}`;
  const nextReferral = referralBody('SCALE');
  const waitingInQueue = async () => ((await (await fetch(`${url}/queues/leiden-noord`, { headers: { authorization: coach } })).json()) as { waiting: number }).waiting;
  const lines: string[] = [];
  let stored = 0;
  try {
    for (const size of SIZES) {
      // Load with 32 connections until the store holds `size` referrals.
      const missing = size - stored;
      const loaded = await autocannon({
        url,
        connections: 32,
        amount: missing,
        requests: [{ method: 'POST', path: '/referrals', headers: { authorization: gp, 'content-type': 'application/json' }, setupRequest: (request) => ({ ...request, body: nextReferral() }) }],
      });
      stored += loaded['2xx'];
      // Work the queue down to the newest QUEUED referrals: each round trip is a claim and an accept.
      const waiting = await waitingInQueue();
      if (waiting > QUEUED) await autocannon({ url, connections: 32, amount: 2 * (waiting - QUEUED), requests: claimAndAccept(coach) });
      const queued = await waitingInQueue();
      const memory = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1] ?? 0) / 1024 / 1024;
      const rows: Row[] = [
        await run('baseline: GET /auth/whoami', pid, { url: `${url}/auth/whoami`, headers: { authorization: gp } }),
        await run('Task?owner&status=requested&_count=10', pid, { url: `${url}/fhir/Task?owner=team-leiden-noord&status=requested&_count=10`, headers: { authorization: coach } }),
        await run('ServiceRequest?identifier=<one>', pid, { url: `${url}/fhir/ServiceRequest?identifier=SCALE-none&_count=10`, headers: { authorization: gp } }),
        await run('Communication?_lastUpdated=gt<1 min ago>', pid, { url: `${url}/fhir/Communication?_lastUpdated=gt${new Date(Date.now() - 60_000).toISOString()}`, headers: { authorization: gp } }),
      ];
      lines.push(...rows.map((row) => `| ${stored} | ${queued} | ${row.scenario} | ${row.requestsPerSecond} | ${row.p50} | ${row.p99} | ${Math.round(memory)} |`));
      console.log(`size ${stored}: loaded at ${Math.round(loaded.requests.average)} referrals/s, ${queued} still queued, Redis ${Math.round(memory)} MB`);
    }
  } finally {
    redis.disconnect();
    await stop();
  }
  console.log(['', '| referrals stored | still queued | scenario | req/s | p50 ms | p99 ms | Redis MB |', '|---:|---:|---|---:|---:|---:|---:|', ...lines].join('\n'));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
