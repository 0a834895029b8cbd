import { randomUUID } from 'node:crypto';
import { expect, test } from '@jest/globals';
import { SEARCH_INDEX_VERSION } from '../../src/fhir/search-parameters.js';
import { OTHER_PRACTICE_AGB, PRACTICE_AGB } from '../fixtures/referral.js';
import { submitReferral } from '../support/referrals.js';
import { startService, withService } from '../support/service.js';

const { service, gp, otherGp, operator } = await withService({
  tokens: { gp: ['gp', PRACTICE_AGB], otherGp: ['gp', OTHER_PRACTICE_AGB], operator: ['operator', 'regio'] },
});

test('a search parameter added in a new version finds what was written before: the index is rebuilt once at start-up', async () => {
  const { taskId } = await submitReferral(service, gp);
  const requester = (await service.request('GET', `/fhir/Task/${taskId}`, { token: gp })).body.requester.reference;
  const byRequester = `/fhir/Task?requester=${requester}&_id=${taskId}`;
  expect((await service.request('GET', byRequester, { token: gp })).body.total).toBe(1);

  // The store as an older version left it: no requester entries, and the older definition recorded.
  await service.db.query(`DELETE FROM search_index WHERE resource_type = 'Task' AND param = 'requester'`);
  await service.db.query('UPDATE search_index_version SET version = 1');
  expect((await service.request('GET', byRequester, { token: gp })).body.total).toBe(0);
  const before = await service.db.query(`SELECT count(*)::int AS n FROM search_index WHERE resource_type = 'Task' AND id = $1`, [taskId]);

  const upgraded = await startService({ prefix: service.prefix });
  try {
    expect((await upgraded.request('GET', byRequester, { token: gp })).body.total).toBe(1);
    const { rows } = await service.db.query('SELECT version FROM search_index_version');
    expect(rows).toEqual([{ version: SEARCH_INDEX_VERSION }]);
    const after = await service.db.query(`SELECT count(*)::int AS n FROM search_index WHERE resource_type = 'Task' AND id = $1`, [taskId]);
    // Only the missing entries came back (one per tenant that sees the Task); nothing was doubled.
    expect(after.rows[0].n).toBeGreaterThan(before.rows[0].n);
    const doubled = await service.db.query(
      `SELECT param, value, tenant FROM search_index WHERE resource_type = 'Task' AND id = $1 GROUP BY param, value, tenant HAVING count(*) > 1`,
      [taskId],
    );
    expect(doubled.rows).toEqual([]);
  } finally {
    await upgraded.close();
  }
});

test('a resource with two identifiers of one system is found once, alone and with another parameter, and counted once', async () => {
  const system = 'https://wor-bridge.nl/fhir/NamingSystem/test-letter';
  const letter = {
    resourceType: 'Communication' as const,
    id: randomUUID(),
    status: 'completed' as const,
    identifier: [{ system, value: `A-${randomUUID()}` }, { system, value: `B-${randomUUID()}` }],
    basedOn: [{ reference: `ServiceRequest/${randomUUID()}` }],
  };
  await service.app.services.store.commit({ writes: [{ resource: letter, acl: [`gp:${PRACTICE_AGB}`] }] });
  for (const query of [`identifier=${encodeURIComponent(`${system}|`)}`, `identifier=${encodeURIComponent(`${system}|`)}&based-on=${letter.basedOn[0]!.reference}`]) {
    const found = await service.request('GET', `/fhir/Communication?${query}`, { token: gp });
    expect({ query, total: found.body.total, ids: found.body.entry.map((entry: { resource: { id: string } }) => entry.resource.id) }).toEqual({ query, total: 1, ids: [letter.id] });
  }
});

interface SearchPage {
  total: number;
  entry?: Array<{ resource: { id: string } }>;
  link: Array<{ relation: string; url: string }>;
}

test("an operator's search looks in every tenancy: two practices' referrals are found and counted once each, page by page, and each practice sees only its own", async () => {
  const mine = await submitReferral(service, gp);
  const theirs = await submitReferral(service, otherGp, { requester: { agb: '01019999', name: 'B. de Vries', practice: { agb: OTHER_PRACTICE_AGB, name: 'Praktijk Oost' } } });
  // Each Task is indexed once for its practice and once for its team: there is no operators' copy.
  const tenancies = await service.db.query(`SELECT DISTINCT tenant FROM search_index WHERE resource_type = 'Task' AND id = $1 ORDER BY tenant`, [theirs.taskId]);
  expect(tenancies.rows.map((row) => row.tenant)).toEqual(['coach:leiden-noord', `gp:${OTHER_PRACTICE_AGB}`]);

  const stored = (await service.db.query(`SELECT id FROM resource WHERE resource_type = 'Task' ORDER BY id`)).rows.map((row) => row.id);
  for (const query of ['_count=1', 'status=requested&_count=1', 'owner=Organization/team-leiden-noord&status=requested,accepted&_count=2']) {
    const seen: string[] = [];
    const totals = new Set<number>();
    for (let path: string | undefined = `/fhir/Task?${query}`; path; ) {
      const page: SearchPage = (await service.request('GET', path, { token: operator })).body;
      totals.add(page.total);
      seen.push(...(page.entry ?? []).map((entry) => entry.resource.id));
      path = page.link.find((link) => link.relation === 'next')?.url.replace('http://wor-bridge.test', '');
    }
    expect({ query, seen: [...seen].sort(), totals: [...totals] }).toEqual({ query, seen: stored, totals: [stored.length] });
  }

  // A replica of the previous release, still running during an upgrade, also indexed this Task
  // under '_all' (migration 018 removed those copies): still one match, and gone with its next version.
  await service.db.query(`INSERT INTO search_index SELECT resource_type, '_all', param, value, last_updated, id FROM search_index WHERE resource_type = 'Task' AND id = $1 AND tenant = 'coach:leiden-noord'`, [theirs.taskId]);
  const byRequest = `/fhir/Task?focus=ServiceRequest/${theirs.serviceRequestId}`;
  expect((await service.request('GET', byRequest, { token: operator })).body.total).toBe(1);
  await service.app.services.store.update('Task', theirs.taskId, (current) => ({ ...current.resource, meta: { ...current.resource.meta, tag: [{ code: 'touched' }] } }));
  expect((await service.db.query(`SELECT 1 FROM search_index WHERE tenant = '_all' AND id = $1`, [theirs.taskId])).rows).toEqual([]);

  const own = async (token: string) => (await service.request('GET', '/fhir/Task?status=requested&_count=50', { token })).body.entry.map((entry: { resource: { id: string } }) => entry.resource.id);
  expect(await own(otherGp)).toEqual([theirs.taskId]);
  expect(await own(gp)).toContain(mine.taskId);
  expect(await own(gp)).not.toContain(theirs.taskId);
});
