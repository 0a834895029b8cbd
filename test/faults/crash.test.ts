import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, test } from '@jest/globals';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { startLocalRedis } from '../../src/store/local-redis.js';
import type { LocalServer } from '../../src/store/local-server.js';
import { mintDevToken } from '../../scripts/dev-token.js';
import { readFileSync } from 'node:fs';
import { createHmac } from 'node:crypto';
import { exampleReferral, PRACTICE_AGB } from '../fixtures/referral.js';
import { subscription } from '../fixtures/subscription.js';
import { startServiceProcess, type ServiceProcess } from '../support/service-process.js';

const TEAM = 'leiden-noord';
const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

async function privateRedis(dir = mkdtempSync(join(tmpdir(), 'wor-crash-')), port?: number): Promise<LocalServer> {
  const redis = await startLocalRedis({ dir, port, extraArgs: ['--appendfsync', 'always'] });
  cleanup.push(() => redis.stop('SIGKILL'));
  return redis;
}

async function serviceOn(redis: LocalServer, prefix: string): Promise<ServiceProcess> {
  const service = await startServiceProcess({ REDIS_URL: redis.url, REDIS_KEY_PREFIX: prefix });
  cleanup.push(() => service.kill('SIGKILL'));
  return service;
}

/** Fires referrals one after another on `lanes` parallel lanes until told to stop; records every answer. */
function loadReferrals(url: string, token: string, lanes: number) {
  const answered = new Map<string, number>();
  const sent: string[] = [];
  let stopped = false;
  const lane = async () => {
    while (!stopped) {
      const referralId = `CRASH-${randomUUID()}`;
      sent.push(referralId);
      const status = await fetch(`${url}/referrals`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(exampleReferral({ referralId })),
      }).then((response) => response.status, () => 0);
      answered.set(referralId, status);
    }
  };
  const running = Promise.all(Array.from({ length: lanes }, lane));
  const stop = async () => {
    stopped = true;
    await running;
  };
  // Should an assertion fail before the test stops it, the load must not go on forever.
  cleanup.push(stop);
  return { answered, sent, stop };
}

/**
 * What must hold after any crash: each acknowledged referral exists exactly once with its Task
 * queued exactly once; nothing is half-written (every stored referral is whole); no Task unqueued.
 */
async function expectConsistent(url: string, redisUrl: string, prefix: string, acknowledged: string[]) {
  const gp = await mintDevToken({ role: 'gp', org: PRACTICE_AGB });
  const search = async (path: string) => (await (await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${gp}` } })).json()) as { total: number };
  for (const referralId of acknowledged) {
    const found = await search(`/fhir/ServiceRequest?identifier=${encodeURIComponent(referralId)}&_count=0`);
    expect({ referralId, total: found.total }).toEqual({ referralId, total: 1 });
  }
  const counts = {
    serviceRequests: (await search('/fhir/ServiceRequest?_count=0')).total,
    tasks: (await search('/fhir/Task?_count=0')).total,
    patients: (await search('/fhir/Patient?_count=0')).total,
  };
  expect(counts.tasks).toBe(counts.serviceRequests);
  // Every referral is of the same patient from the same practice to the same team: one shared Patient.
  expect(counts.patients).toBe(1);
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue(`team-${TEAM}`, { connection, prefix: `${prefix}:bull` });
  const jobs = await queue.getJobCounts('waiting', 'prioritized', 'active', 'completed');
  const queued = Object.values(jobs).reduce((sum, count) => sum + count, 0);
  await queue.close();
  connection.disconnect();
  expect(queued).toBe(counts.tasks);
  expect(counts.tasks).toBeGreaterThanOrEqual(acknowledged.length);
}

describe('crash safety', () => {
  test('kill -9 of the service in the middle of a load of referrals: every acknowledged referral exists once, queued once, nothing half-written', async () => {
    const redis = await privateRedis();
    const prefix = `crash-${randomUUID().slice(0, 6)}`;
    const first = await serviceOn(redis, prefix);
    const token = await mintDevToken({ role: 'gp', org: PRACTICE_AGB });
    const load = loadReferrals(first.url, token, 16);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await first.kill('SIGKILL');
    await load.stop();
    const acknowledged = [...load.answered].filter(([, status]) => status === 201).map(([id]) => id);
    expect(acknowledged.length).toBeGreaterThan(20);
    expect([...load.answered.values()].some((status) => status === 0)).toBe(true);

    const second = await serviceOn(redis, prefix);
    await expectConsistent(second.url, redis.url, prefix, acknowledged);
    // A client that never heard back retries: it gets its referral (201 or 200), still exactly once.
    const unanswered = [...load.answered].filter(([, status]) => status !== 201).map(([id]) => id);
    for (const referralId of unanswered) {
      const response = await fetch(`${second.url}/referrals`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(exampleReferral({ referralId })),
      });
      expect([200, 201]).toContain(response.status);
    }
    await expectConsistent(second.url, redis.url, prefix, [...acknowledged, ...unanswered]);
  }, 90_000);

  test('kill -9 of Redis (AOF, appendfsync always) under load: /readyz and writes answer 503, the service recovers by itself, and nothing acknowledged is lost', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wor-crash-'));
    const redis = await privateRedis(dir);
    const prefix = `crash-${randomUUID().slice(0, 6)}`;
    const service = await serviceOn(redis, prefix);
    const token = await mintDevToken({ role: 'gp', org: PRACTICE_AGB });
    const load = loadReferrals(service.url, token, 16);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await redis.stop('SIGKILL');

    await new Promise((resolve) => setTimeout(resolve, 500));
    const ready = await fetch(`${service.url}/readyz`);
    expect(ready.status).toBe(503);
    const write = await fetch(`${service.url}/referrals`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(exampleReferral({ referralId: `CRASH-DOWN-${randomUUID()}` })),
    });
    expect(write.status).toBe(503);
    expect(((await write.json()) as { resourceType: string }).resourceType).toBe('OperationOutcome');
    // A subscription is PostgreSQL's alone: it is taken (its handshake follows from the sweep), so
    // its client has no reason to send it again and subscribe twice.
    const coach = await mintDevToken({ role: 'coach', org: TEAM });
    const subscribed = await fetch(`${service.url}/fhir/Subscription`, {
      method: 'POST',
      headers: { authorization: `Bearer ${coach}`, 'content-type': 'application/fhir+json' },
      body: JSON.stringify(subscription('task-created', 'https://localhost:9/wor-hook')),
    });
    expect(subscribed.status).toBe(201);
    await load.stop();

    const restarted = await privateRedis(dir, redis.port);
    for (let i = 0; i < 50 && (await fetch(`${service.url}/readyz`)).status !== 200; i += 1) await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await fetch(`${service.url}/readyz`)).status).toBe(200);
    const acknowledged = [...load.answered].filter(([, status]) => status === 201).map(([id]) => id);
    expect(acknowledged.length).toBeGreaterThan(20);
    // The outbox relay queues what the outage interrupted; give it one pass.
    await new Promise((resolve) => setTimeout(resolve, 16_000));
    await expectConsistent(service.url, restarted.url, prefix, acknowledged);
    const after = await fetch(`${service.url}/referrals`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(exampleReferral({ referralId: `CRASH-AFTER-${randomUUID()}` })),
    });
    expect(after.status).toBe(201);
    const subscriptions = (await (await fetch(`${service.url}/fhir/Subscription`, { headers: { authorization: `Bearer ${coach}` } })).json()) as { total: number; entry: Array<{ resource: { status: string } }> };
    expect([subscriptions.total, subscriptions.entry[0]!.resource.status]).toEqual([1, 'requested']);
  }, 120_000);

  test('kill -9 of the service between the 202 of a portal document and its conversion: after restart each is converted exactly once', async () => {
    const redis = await privateRedis();
    const prefix = `crash-${randomUUID().slice(0, 6)}`;
    const env = { ZORGDOMEIN_HMAC_SECRET: 'crash-secret', INBOUND_RETRY_BACKOFF_MS: '100' };
    const first = await startServiceProcess({ REDIS_URL: redis.url, REDIS_KEY_PREFIX: prefix, ...env });
    cleanup.push(() => first.kill('SIGKILL'));
    const portal = await mintDevToken({ role: 'portal', org: 'zorgdomein' });
    const template = readFileSync('test/fixtures/portal/r4-verwijzing.json', 'utf8');
    const accepted: string[] = [];
    await Promise.all(
      Array.from({ length: 30 }, async (_, i) => {
        const document = JSON.parse(template);
        document.identifier.value = `ZD-DOC-CRASH-${i}`;
        document.entry[0].resource.identifier.value = `ZD-CRASH-${i}`;
        const body = JSON.stringify(document);
        const response = await fetch(`${first.url}/inbound/zorgdomein`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${portal}`,
            'content-type': 'application/fhir+json',
            'x-signature': `sha256=${createHmac('sha256', 'crash-secret').update(body).digest('hex')}`,
          },
          body,
        }).catch(() => undefined);
        if (response?.status === 202) accepted.push(`ZD-CRASH-${i}`);
      }),
    );
    await first.kill('SIGKILL');
    expect(accepted.length).toBe(30);

    const second = await startServiceProcess({ REDIS_URL: redis.url, REDIS_KEY_PREFIX: prefix, ...env });
    cleanup.push(() => second.kill('SIGKILL'));
    const operator = await mintDevToken({ role: 'operator', org: 'regio' });
    const count = async (zd: string) =>
      ((await (await fetch(`${second.url}/fhir/ServiceRequest?identifier=${zd}&_count=0`, { headers: { authorization: `Bearer ${operator}` } })).json()) as { total: number }).total;
    const deadline = Date.now() + 45_000;
    let totals: number[] = [];
    while (Date.now() < deadline) {
      totals = await Promise.all(accepted.map(count));
      if (totals.every((total) => total === 1)) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(totals).toEqual(accepted.map(() => 1));
    const tasks = (await (await fetch(`${second.url}/fhir/Task?_count=0`, { headers: { authorization: `Bearer ${operator}` } })).json()) as { total: number };
    expect(tasks.total).toBe(30);
  }, 90_000);
});
