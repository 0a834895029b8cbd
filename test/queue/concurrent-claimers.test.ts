import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { PRACTICE_AGB } from '../fixtures/referral.js';
import { submitReferral } from '../support/referrals.js';
import { startService, type TestService } from '../support/service.js';

const TEAM = 'leiden-noord';
const REFERRALS = 300;
let first: TestService;
let second: TestService;

beforeAll(async () => {
  first = await startService();
  // A second service process on the same Redis and key prefix, as in a deployment with two instances.
  second = await startService({ prefix: first.prefix });
});
afterAll(async () => {
  await second.close();
  await first.close();
});

test('three claimers on two service processes drain 300 referrals: each claimed and acknowledged once, in priority order', async () => {
  const gp = await first.token('gp', PRACTICE_AGB);
  const coach = await first.token('coach', TEAM);
  const urgent = new Set<string>();
  for (let i = 0; i < REFERRALS; i += 10) {
    const batch = await Promise.all(
      Array.from({ length: 10 }, (_, j) => submitReferral(i % 20 === 0 ? first : second, gp, (i + j) % 7 === 0 ? { urgency: 'urgent' } : {})),
    );
    batch.forEach((referral, j) => (i + j) % 7 === 0 && urgent.add(referral.taskId));
  }

  const claimedBy = new Map<string, number>();
  const claimOrder: string[] = [];
  const claimer = async (service: TestService) => {
    for (;;) {
      const claim = await service.request('POST', `/queues/${TEAM}/claim`, { token: coach });
      if (claim.status === 204) return;
      expect(claim.status).toBe(200);
      const taskId: string = claim.body.bundle.entry[0].resource.id;
      claimOrder.push(taskId);
      claimedBy.set(taskId, (claimedBy.get(taskId) ?? 0) + 1);
      const ack = await service.request('POST', `/queues/${TEAM}/leases/${claim.body.lease.id}/ack`, { token: coach, body: { status: 'accepted' } });
      expect(ack.status).toBe(200);
    }
  };
  await Promise.all([claimer(first), claimer(second), claimer(first)]);

  expect(claimedBy.size).toBe(REFERRALS);
  expect([...claimedBy.values()].every((count) => count === 1)).toBe(true);
  // All urgent tasks were claimed before any routine one (claims interleave, so compare positions).
  const lastUrgent = Math.max(...[...urgent].map((id) => claimOrder.indexOf(id)));
  const firstRoutine = claimOrder.findIndex((id) => !urgent.has(id));
  expect(lastUrgent).toBeLessThan(firstRoutine + 3);
  const accepted = await first.request('GET', `/fhir/Task?owner=team-${TEAM}&status=accepted&_count=0`, { token: coach });
  expect(accepted.body.total).toBe(REFERRALS);
  expect((await first.request('GET', `/queues/${TEAM}`, { token: coach })).body).toMatchObject({ waiting: 0, leased: 0 });
}, 120_000);
