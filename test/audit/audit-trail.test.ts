import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { auditRecord } from '../../src/audit/audit-event.js';
import { AuditTrail } from '../../src/audit/audit-trail.js';
import { PRACTICE_AGB } from '../fixtures/referral.js';
import { expectValidFhir } from '../support/fhir-validation.js';
import { submitReferral } from '../support/referrals.js';
import { startService, withService, type TestService } from '../support/service.js';

/** Runs statements as the superuser with the append-only trigger switched off, as an attacker with database access could. */
async function asOwner(target: TestService, ...statements: string[]): Promise<void> {
  const client = await target.db.connect();
  try {
    await client.query('BEGIN');
    await client.query('ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only');
    for (const statement of statements) await client.query(statement);
    await client.query('ALTER TABLE audit_event ENABLE TRIGGER audit_event_append_only');
    await client.query('COMMIT');
  } finally {
    client.release();
  }
}

const rowCount = async (target: TestService) => Number((await target.db.query('SELECT count(*) FROM audit_event')).rows[0].count);

const { service, gp, coach, operator } = await withService({
  tokens: {
    gp: ['gp', PRACTICE_AGB, { clientId: 'his-de-linde' }],
    coach: ['coach', 'leiden-noord', { clientId: 'coach-app-noord' }],
    operator: ['operator', 'regio-leiden'],
  },
});

const auditFor = async (query: string) => (await service.request('GET', `/operator/audit?${query}`, { token: operator })).body;

describe('the NEN 7513 audit trail', () => {
  test('every access to a patient’s data is recorded with who, for which organisation, what and when', async () => {
    const { taskId } = await submitReferral(service, gp);
    const task = (await service.request('GET', `/fhir/Task/${taskId}`, { token: coach })).body;
    const patient = task.for.reference;
    const events = (await auditFor(`patient=${patient}`)).entry.map((entry: { resource: any }) => entry.resource);
    expect(events.map((event: any) => [event.action, event.agent[0].who.identifier.value, event.agent[1].who.identifier.value])).toEqual([
      ['C', 'his-de-linde', 'gp:01054321'],
      ['R', 'coach-app-noord', 'coach:leiden-noord'],
    ]);
    const read = events[1];
    expect(read.entity.map((entity: any) => entity.what.reference)).toEqual([patient, `Task/${taskId}`]);
    expect(Date.parse(read.recorded)).toBeGreaterThan(Date.now() - 60_000);
    for (const event of events) expectValidFhir(event);
  });

  test('the overview for a patient by BSN covers every referral of that patient; by client it shows what a client saw', async () => {
    await submitReferral(service, gp);
    await submitReferral(service, gp);
    const overview = await auditFor(`identifier=${encodeURIComponent('http://fhir.nl/fhir/NamingSystem/bsn|999990019')}`);
    expect(overview.total).toBeGreaterThanOrEqual(2);
    const byClient = await auditFor('client=his-de-linde');
    expect(byClient.entry.every((entry: any) => entry.resource.agent[0].who.identifier.value === 'his-de-linde')).toBe(true);
  });

  test('a refused access discloses nothing and records no patient', async () => {
    const before = (await auditFor('client=coach-app-zuid')).total;
    const { taskId } = await submitReferral(service, gp);
    const other = await service.token('coach', 'leiden-zuid', { clientId: 'coach-app-zuid' });
    expect((await service.request('GET', `/fhir/Task/${taskId}`, { token: other })).status).toBe(404);
    expect((await auditFor('client=coach-app-zuid')).total).toBe(before);
  });

  test('the chain verifies, and removing an event breaks it', async () => {
    await submitReferral(service, gp);
    const check = await service.request('GET', '/operator/audit/verify', { token: operator });
    expect(check.status).toBe(200);
    expect(check.body.valid).toBe(true);
    expect(check.body.events).toBeGreaterThan(3);
    await asOwner(service, 'DELETE FROM audit_event WHERE seq = 2');
    const broken = await service.request('GET', '/operator/audit/verify', { token: operator });
    expect(broken.status).toBe(409);
    expect(broken.body.issue[0].diagnostics).toMatch(/sequence number 2$/);
  });

  test('only operators read the audit trail', async () => {
    expect((await service.request('GET', '/operator/audit?client=x', { token: gp })).status).toBe(403);
    expect((await service.request('GET', '/operator/audit', { token: operator })).status).toBe(400);
  });

  test('an UPDATE, DELETE or TRUNCATE of the audit trail, or rewinding its head, is refused by the database', async () => {
    await submitReferral(service, gp);
    const before = await rowCount(service);
    await expect(service.db.query("UPDATE audit_event SET client_id = 'someone-else'")).rejects.toThrow(/append-only: UPDATE/);
    await expect(service.db.query('DELETE FROM audit_event')).rejects.toThrow(/append-only: DELETE/);
    await expect(service.db.query('TRUNCATE audit_event')).rejects.toThrow(/append-only: TRUNCATE/);
    const partition = (await service.db.query("SELECT audit_event_partition(now()) AS name")).rows[0].name;
    await expect(service.db.query(`DELETE FROM ${partition}`)).rejects.toThrow(/append-only: DELETE/);
    await expect(service.db.query(`TRUNCATE ${partition}`)).rejects.toThrow(/append-only: TRUNCATE/);
    expect(await rowCount(service)).toBe(before);
    await expect(service.db.query('UPDATE audit_chain_head SET seq = seq - 1')).rejects.toThrow(/only moves forward/);
    await expect(service.db.query('DELETE FROM audit_chain_head')).rejects.toThrow(/only moves forward/);
  });

  test('a search read adds exactly one small row to PostgreSQL and nothing to Redis', async () => {
    await submitReferral(service, gp);
    const search = () => service.request('GET', '/fhir/Task?owner=Organization/team-leiden-noord&status=requested&_count=10', { token: coach });
    expect((await search()).status).toBe(200); // the client's rate-limit counter exists from here on
    // The referral's queue job is added after its commit: count the keys once that has settled.
    let keys = -1;
    for (let count = (await service.keys('*')).length; count !== keys; count = (await service.keys('*')).length) {
      keys = count;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const rows = await rowCount(service);
    const response = await search();
    expect(response.status).toBe(200);
    expect(response.body.entry.length).toBeGreaterThan(0);
    expect(await rowCount(service)).toBe(rows + 1);
    expect((await service.keys('*')).length).toBe(keys);
    const sizes = (await service.db.query('SELECT pg_column_size(a.*) AS size FROM audit_event a')).rows.map((row) => row.size as number);
    expect(Math.max(...sizes)).toBeLessThan(1024);
  });

  test('a request whose audit cannot be written is not answered with the data', async () => {
    const { taskId } = await submitReferral(service, gp);
    await service.db.query('ALTER TABLE audit_chain_head RENAME TO audit_chain_head_away');
    try {
      const response = await service.request('GET', `/fhir/Task/${taskId}`, { token: coach });
      expect(response.status).toBeGreaterThanOrEqual(500);
      expect(response.body.resourceType).toBe('OperationOutcome');
      expect(JSON.stringify(response.body)).not.toContain(taskId);
    } finally {
      await service.db.query('ALTER TABLE audit_chain_head_away RENAME TO audit_chain_head');
    }
    expect((await service.request('GET', `/fhir/Task/${taskId}`, { token: coach })).status).toBe(200);
  });

  test('a token that names the acting person (sub with a name and UZI number) puts that person in the AuditEvent beside the client', async () => {
    const { taskId } = await submitReferral(service, gp);
    const nurse = await service.token('coach', 'leiden-noord', {
      clientId: 'coach-app-noord',
      claims: { sub: 'medewerker-4711', name: 'M. de Wit', uzi_nr: '900012345' },
    });
    const named = await service.token('coach', 'leiden-noord', { clientId: 'coach-app-person', claims: { sub: 'medewerker-4712', name: 'P. Bakker' } });
    for (const token of [nurse, named]) expect((await service.request('GET', `/fhir/Task/${taskId}`, { token })).status).toBe(200);
    const task = (await service.request('GET', `/fhir/Task/${taskId}`, { token: coach })).body;
    const events = (await auditFor(`patient=${task.for.reference}`)).entry.map((entry: { resource: any }) => entry.resource).filter((event: any) => event.action === 'R');
    // The patient's trail also holds earlier scenarios' reads (one Patient per BSN): find these three by who read.
    const readBy = (value: string) => events.find((event: any) => event.agent.some((agent: any) => agent.who?.identifier?.value === value));
    const byNurse = readBy('900012345');
    const byNamed = readBy('medewerker-4712');
    const bySystem = events.filter((event: any) => event.agent.length === 2).at(-1);
    expect(byNurse.agent).toHaveLength(3);
    expect(byNurse.agent[0]).toMatchObject({ who: { identifier: { value: 'coach-app-noord' } }, requestor: false });
    expect(byNurse.agent[2]).toEqual({
      type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/extra-security-role-type', code: 'humanuser', display: 'human user' }] },
      who: { identifier: { system: 'http://fhir.nl/fhir/NamingSystem/uzi-nr-pers', value: '900012345' }, display: 'M. de Wit' },
      altId: 'medewerker-4711',
      name: 'M. de Wit',
      requestor: true,
    });
    expect(byNamed.agent[2]).toMatchObject({ who: { identifier: { system: 'https://wor-bridge.nl/fhir/NamingSystem/user', value: 'medewerker-4712' }, display: 'P. Bakker' } });
    // A system token (sub is the client, no name or UZI claim) names no person.
    expect(bySystem.agent).toHaveLength(2);
    expect(bySystem.agent[0].requestor).toBe(true);
    for (const event of [byNurse, byNamed, bySystem]) expectValidFhir(event);
  });

  test('a token with a malformed UZI number claim is refused (401), and nothing is recorded for it', async () => {
    const bad = await service.token('coach', 'leiden-noord', { clientId: 'coach-app-bad-uzi', claims: { sub: 'x', uzi_nr: '12' } });
    const response = await service.request('GET', '/fhir/Task?status=requested', { token: bad });
    expect(response.status).toBe(401);
    expect(response.body.issue[0].diagnostics).toMatch(/uzi_nr/);
    expect((await auditFor('client=coach-app-bad-uzi')).total).toBe(0);
  });
});

describe('tampering with the audit trail in PostgreSQL', () => {
  let own: TestService;
  let ownOperator: string;
  let ownGp: string;

  beforeAll(async () => {
    own = await startService();
    ownOperator = await own.token('operator', 'regio-leiden');
    ownGp = await own.token('gp', PRACTICE_AGB, { clientId: 'his-de-linde' });
  });
  afterAll(() => own.close());

  const verify = () => own.request('GET', '/operator/audit/verify', { token: ownOperator });

  test('concurrent reads from 50 parallel requests are all audited, and the chain stays valid', async () => {
    const { taskId } = await submitReferral(own, ownGp);
    // Half of them by a named person: the person is part of the chained facts too.
    const system = await own.token('coach', 'leiden-noord', { clientId: 'coach-app-parallel' });
    const person = await own.token('coach', 'leiden-noord', { clientId: 'coach-app-parallel', claims: { sub: 'medewerker-1', name: 'M. de Wit', uzi_nr: '900012345' } });
    const responses = await Promise.all(Array.from({ length: 50 }, (_, index) => own.request('GET', `/fhir/Task/${taskId}`, { token: index % 2 ? person : system })));
    expect(responses.map((response) => response.status)).toEqual(Array(50).fill(200));
    const requestIds = new Set(responses.map((response) => response.headers.get('x-request-id')));
    const { rows } = await own.db.query("SELECT request_id FROM audit_event WHERE client_id = 'coach-app-parallel'");
    expect(new Set(rows.map((row) => row.request_id))).toEqual(requestIds);
    // Batched: requests that arrive together share a transaction.
    const transactions = (await own.db.query("SELECT count(DISTINCT xmin::text) AS n FROM audit_event WHERE client_id = 'coach-app-parallel'")).rows[0].n;
    expect(Number(transactions)).toBeLessThan(50);
    expect(Number((await own.db.query("SELECT count(*) FROM audit_event WHERE client_id = 'coach-app-parallel' AND person->>'uzi' = '900012345'")).rows[0].count)).toBe(25);
    const check = await own.request('GET', '/operator/audit/verify', { token: ownOperator });
    expect(check.status).toBe(200);
    expect(check.body.valid).toBe(true);
  });

  test('deleting the last rows is reported by verify as broken at the tail', async () => {
    const last = Number((await own.db.query('SELECT seq FROM audit_chain_head')).rows[0].seq);
    expect(last).toBeGreaterThan(50);
    await asOwner(own, `DELETE FROM audit_event WHERE seq >= ${last - 1}`);
    const tail = await verify();
    expect(tail.status).toBe(409);
    expect(tail.body.issue[0].diagnostics).toMatch(new RegExp(`sequence number ${last - 1}$`));
  });

  test('tampering with a middle row breaks verify there', async () => {
    await asOwner(own, "UPDATE audit_event SET client_id = 'someone-else' WHERE seq = 2");
    const middle = await verify();
    expect(middle.status).toBe(409);
    expect(middle.body.issue[0].diagnostics).toMatch(/sequence number 2$/);
  });
});

describe('retention of the audit trail', () => {
  let fresh: TestService;
  let freshOperator: string;

  beforeAll(async () => {
    fresh = await startService();
    freshOperator = await fresh.token('operator', 'regio-leiden');
  });
  afterAll(() => fresh.close());

  const appendAt = (recorded: string) =>
    fresh.app.services.audit.append(
      auditRecord({
        id: AuditTrail.newId(),
        caller: { role: 'coach', org: 'leiden-noord', clientId: 'coach-app-noord', grants: [] },
        method: 'GET',
        route: '/fhir/Task/:id',
        status: 200,
        requestId: `retention-${recorded}`,
        recorded: new Date(recorded),
        disclosure: { patients: ['Patient/p1'], resources: ['Task/t1'] },
      }),
    );

  test('retention drops whole months; the chain then starts at the oldest row kept and still verifies', async () => {
    for (const recorded of ['2020-01-10T12:00:00Z', '2020-01-31T23:59:59.999Z', '2020-02-15T12:00:00Z', '2020-03-01T00:00:00Z']) await appendAt(recorded);
    // A process whose clock lags behind never records a time before the head's.
    await appendAt('2020-02-20T12:00:00Z');
    expect((await fresh.db.query('SELECT recorded FROM audit_event WHERE seq = 5')).rows[0].recorded.toISOString()).toBe('2020-03-01T00:00:00.000Z');
    const partitions = async () =>
      (await fresh.db.query("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'audit_event'::regclass ORDER BY 1")).rows.map((row) => row.relname);
    expect(await partitions()).toEqual(expect.arrayContaining(['audit_event_202001', 'audit_event_202002', 'audit_event_202003']));

    expect(await fresh.app.services.audit.trim(0, Date.parse('2020-03-01T00:00:00Z'))).toBe(2);
    expect(await partitions()).not.toContain('audit_event_202001');
    expect(await partitions()).not.toContain('audit_event_202002');
    const kept = (await fresh.db.query('SELECT seq FROM audit_event ORDER BY seq')).rows.map((row) => Number(row.seq));
    expect(kept).toEqual([4, 5]);
    const check = await fresh.request('GET', '/operator/audit/verify', { token: freshOperator });
    expect(check.status).toBe(200);
    expect(check.body).toEqual({ valid: true, events: 2 });

    await asOwner(fresh, 'DELETE FROM audit_event WHERE seq = 4');
    expect((await fresh.request('GET', '/operator/audit/verify', { token: freshOperator })).status).toBe(409);
  });
});
