import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { Redis } from 'ioredis';
import { PRACTICE_AGB } from '../fixtures/referral.js';
import { submitReferral } from '../support/referrals.js';
import { withService } from '../support/service.js';
import { startLocalRedis } from '../../src/store/local-redis.js';
import type { LocalServer } from '../../src/store/local-server.js';

const TEAM = 'leiden-noord';
let redis: LocalServer;

beforeAll(async () => {
  // A Redis of its own: this test empties it with FLUSHALL.
  redis = await startLocalRedis({ dir: `test/.logs/redis-flush-${process.pid}` });
});
const { service, gp, coach } = await withService({ tokens: { gp: ['gp', PRACTICE_AGB], coach: ['coach', TEAM] } }, () => ({ env: { REDIS_URL: redis.url } }));
afterAll(() => redis.stop());

test('FLUSHALL under intake load while the queue drains: Redis refills itself from PostgreSQL, and every acknowledged referral is claimed exactly once', async () => {
  const acknowledged = new Set<string>();
  for (let i = 0; i < 20; i += 1) acknowledged.add((await submitReferral(service, gp)).taskId);

  // Two tasks are leased and one accepted when Redis loses everything.
  const claimedOnce = new Map<string, number>();
  const claim = async () => {
    const response = await service.request('POST', `/queues/${TEAM}/claim`, { token: coach });
    if (response.status === 204) return undefined;
    expect(response.status).toBe(200);
    const taskId: string = response.body.bundle.entry[0].resource.id;
    claimedOnce.set(taskId, (claimedOnce.get(taskId) ?? 0) + 1);
    return { taskId, leaseId: response.body.lease.id as string };
  };
  const accepted = (await claim())!;
  await service.request('POST', `/queues/${TEAM}/leases/${accepted.leaseId}/ack`, { token: coach, body: { status: 'accepted' } });
  const leasedWhenFlushed = [(await claim())!, (await claim())!];

  const flusher = new Redis(redis.url);
  const intake = (async () => {
    for (let i = 0; i < 20; i += 1) {
      const submitted = await submitReferral(service, gp).catch(() => undefined);
      if (submitted) acknowledged.add(submitted.taskId);
    }
  })();
  await flusher.flushall();
  await intake;
  flusher.disconnect();

  // The leases went with Redis: those Tasks go back to `requested` and on the queue by themselves.
  const deadline = Date.now() + 20_000;
  for (;;) {
    const tasks = await Promise.all(leasedWhenFlushed.map(({ taskId }) => service.request('GET', `/fhir/Task/${taskId}`, { token: coach })));
    if (tasks.every((task) => task.body.status === 'requested')) break;
    if (Date.now() > deadline) throw new Error('the leased tasks did not come back after the flush');
    await new Promise((resolve) => setTimeout(resolve, 250));
  }

  // Drain the queue: every acknowledged referral not yet accepted comes up once, nothing else does.
  for (let next = await claim(); next; next = await claim()) {
    await service.request('POST', `/queues/${TEAM}/leases/${next.leaseId}/ack`, { token: coach, body: { status: 'accepted' } });
  }
  for (const taskId of acknowledged) {
    const expected = leasedWhenFlushed.some((leased) => leased.taskId === taskId) ? 2 : 1;
    expect({ taskId, claims: claimedOnce.get(taskId) ?? 0 }).toEqual({ taskId, claims: expected });
  }
  expect([...claimedOnce.keys()].filter((taskId) => !acknowledged.has(taskId))).toEqual([]);
  const stillRequested = await service.request('GET', `/fhir/Task?owner=Organization/team-${TEAM}&status=requested&_count=0`, { token: coach });
  expect(stillRequested.body.total).toBe(0);
}, 60_000);
