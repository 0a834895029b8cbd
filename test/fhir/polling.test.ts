import { randomUUID } from 'node:crypto';
import { expect, test } from '@jest/globals';
import type { Communication } from 'fhir/r4.js';
import { PRACTICE_AGB } from '../fixtures/referral.js';
import { submitReferral } from '../support/referrals.js';
import { withService } from '../support/service.js';


const { service, gp } = await withService({ tokens: { gp: ['gp', PRACTICE_AGB] } });

const letter = (): Communication => ({
  resourceType: 'Communication',
  id: randomUUID(),
  status: 'completed',
  identifier: [{ system: 'https://wor-bridge.nl/fhir/NamingSystem/test-letter', value: randomUUID() }],
});
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('a GP system that polls Communication?_lastUpdated=gt<last seen> never misses a letter whose write committed late', async () => {
  const acl = [`gp:${PRACTICE_AGB}`];
  const start = new Date(Date.now() - 1000).toISOString();
  const seen = new Set<string>();
  let cursor = start;
  const poll = async () => {
    const page = await service.request('GET', `/fhir/Communication?_lastUpdated=gt${encodeURIComponent(cursor)}&_count=100`, { token: gp });
    expect(page.status).toBe(200);
    for (const entry of page.body.entry ?? []) {
      seen.add(entry.resource.id);
      if (entry.resource.meta.lastUpdated > cursor) cursor = entry.resource.meta.lastUpdated;
    }
  };

  // A slow writer: its letter's lastUpdated is taken when its transaction begins, and a statement of
  // the same commit keeps it from committing for 1.5 s.
  await service.app.services.db.query('CREATE TABLE slow_write (at timestamptz)');
  const slow = letter();
  const slowWrite = service.app.services.store.commit({ writes: [{ resource: slow, acl }], effects: [{ text: 'INSERT INTO slow_write SELECT now() FROM pg_sleep($1)', values: [1.5] }] });
  await sleep(200);
  const fast = letter();
  await service.app.services.store.commit({ writes: [{ resource: fast, acl }] });
  // The poller runs while the slow write is in flight: it must not move past the slow letter's time.
  await poll();
  await poll();
  expect(seen.has(fast.id!)).toBe(false);
  await slowWrite;
  await poll();
  expect([...seen].sort()).toEqual([slow.id!, fast.id!].sort());
});

test('a client following next links sees every match once, although a match is written between two pages', async () => {
  const coach = await service.token('coach', 'leiden-noord');
  for (let i = 0; i < 7; i += 1) await submitReferral(service, gp);
  const seen: string[] = [];
  let url = `/fhir/Task?owner=Organization/team-leiden-noord&status=requested&_count=3`;
  let first = true;
  for (;;) {
    const page = await service.request('GET', url, { token: coach });
    expect(page.status).toBe(200);
    seen.push(...page.body.entry.map((entry: any) => entry.resource.id));
    if (first) {
      // The oldest Task, not shown yet, changes: it would jump to the front, and with offsets push
      // another Task onto the next page twice, or with a plain keyset never be shown at all.
      first = false;
      const all = await service.request('GET', `/fhir/Task?owner=Organization/team-leiden-noord&status=requested&_count=100`, { token: coach });
      const changed = all.body.entry.at(-1).resource.id;
      await service.app.services.store.update('Task', changed, (current) => ({ ...current.resource, note: [{ text: 'gebeld' }] }));
    }
    const next = page.body.link.find((link: any) => link.relation === 'next');
    if (!next) break;
    url = next.url.replace('http://wor-bridge.test', '');
  }
  expect(new Set(seen).size).toBe(seen.length);
  expect(seen.length).toBe((await service.request('GET', `/fhir/Task?owner=Organization/team-leiden-noord&status=requested&_count=0`, { token: coach })).body.total);
});

test('a _cursor this server did not hand out answers 400 naming it', async () => {
  const coach = await service.token('coach', 'leiden-noord');
  for (const cursor of ['not-a-cursor', Buffer.from('2026-11-27T10:00:00.000Z|x').toString('base64url'), 'x'.repeat(300)]) {
    const response = await service.request('GET', `/fhir/Task?_cursor=${cursor}`, { token: coach });
    expect(response.status).toBe(400);
    expect(response.body.issue[0]).toMatchObject({ code: 'invalid', expression: ['_cursor'] });
  }
});
