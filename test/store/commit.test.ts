import { randomUUID } from 'node:crypto';
import { expect, test } from '@jest/globals';
import type { Communication } from 'fhir/r4.js';
import { exampleReferral, PRACTICE_AGB } from '../fixtures/referral.js';
import { withService } from '../support/service.js';

const { service } = await withService({});
const ACL = ['gp:01054321'];

const letter = (status: Communication['status']): Communication => ({ resourceType: 'Communication', id: randomUUID(), status });
const rowsOf = async (table: string, id: string) =>
  (await service.db.query(`SELECT version, content->>'status' AS status FROM ${table} WHERE resource_type = 'Communication' AND id = $1 ORDER BY version`, [id])).rows;

const store = () => service.app.services.store;

test('a create writes its content once; each update moves the version it replaces to the history, and vread and _history show every version', async () => {
  const created = letter('preparation');
  await store().commit({ writes: [{ resource: created, acl: ACL }] });
  expect(await rowsOf('resource_version', created.id!)).toEqual([]);

  for (const status of ['in-progress', 'completed'] as const) await store().update<Communication>('Communication', created.id!, (current) => ({ ...current.resource, status }));

  expect(await rowsOf('resource', created.id!)).toEqual([{ version: 3, status: 'completed' }]);
  expect(await rowsOf('resource_version', created.id!)).toEqual([
    { version: 1, status: 'preparation' },
    { version: 2, status: 'in-progress' },
  ]);
  const history = await store().history('Communication', created.id!);
  expect(history?.versions.map((version) => [version.meta?.versionId, (version as Communication).status])).toEqual([
    ['3', 'completed'],
    ['2', 'in-progress'],
    ['1', 'preparation'],
  ]);
  expect(history?.acl).toEqual(ACL);
  for (const [versionId, status] of [['1', 'preparation'], ['2', 'in-progress'], ['3', 'completed']]) {
    expect((await store().vread('Communication', created.id!, versionId!))?.resource).toMatchObject({ status, meta: { versionId } });
  }
  expect(await store().vread('Communication', created.id!, '4')).toBeUndefined();
});

test('a current version that a replica of the previous release also wrote to the history (during an upgrade) is shown once and does not stop the next update', async () => {
  const created = letter('preparation');
  await store().commit({ writes: [{ resource: created, acl: ACL }] });
  await service.db.query(`INSERT INTO resource_version (resource_type, id, version, last_updated, content) SELECT resource_type, id, version, last_updated, content FROM resource WHERE id = $1`, [created.id]);
  expect((await store().history('Communication', created.id!))?.versions).toHaveLength(1);

  await store().update<Communication>('Communication', created.id!, (current) => ({ ...current.resource, status: 'completed' }));
  expect(await rowsOf('resource', created.id!)).toEqual([{ version: 2, status: 'completed' }]);
  expect((await store().history('Communication', created.id!))?.versions.map((version) => version.meta?.versionId)).toEqual(['2', '1']);
});

test('of concurrent updates of one version one wins, and the version it replaced is in the history once', async () => {
  const created = letter('preparation');
  await store().commit({ writes: [{ resource: created, acl: ACL }] });
  const previous = (await store().read<Communication>('Communication', created.id!))!;
  const outcomes = await Promise.all(
    (['in-progress', 'completed', 'stopped', 'on-hold', 'entered-in-error'] as const).map((status) =>
      store().commit({ writes: [{ resource: { ...previous.resource, status } as Communication, previous, acl: ACL }] }).then((result) => result.outcome),
    ),
  );
  expect(outcomes.filter((outcome) => outcome === 'committed')).toHaveLength(1);
  expect(outcomes.filter((outcome) => outcome === 'conflict')).toHaveLength(4);
  expect(await rowsOf('resource_version', created.id!)).toEqual([{ version: 1, status: 'preparation' }]);
  expect((await store().history('Communication', created.id!))?.versions).toHaveLength(2);
});

test('a commit that deadlocks with another writer is sent again and lands, and the other writer goes on', async () => {
  const [first, second] = [letter('preparation'), letter('preparation')];
  await store().commit({ writes: [{ resource: first, acl: ACL }, { resource: second, acl: ACL }] });
  const [storedFirst, storedSecond] = await store().readMany([['Communication', first.id!], ['Communication', second.id!]]);
  const deadlocks = async () => {
    await service.db.query('SELECT pg_stat_clear_snapshot()');
    return Number((await service.db.query('SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()')).rows[0].deadlocks);
  };
  const deadlocksBefore = await deadlocks();

  // Another writer holds the first letter; the commit locks the second, then waits for the first.
  const other = await service.db.connect();
  try {
    await other.query('BEGIN');
    const xid = (await other.query('SELECT pg_current_xact_id()::text AS xid')).rows[0].xid as string;
    await other.query(`SELECT 1 FROM resource WHERE resource_type = 'Communication' AND id = $1 FOR UPDATE`, [first.id]);
    const commit = store().commit({
      writes: [
        { resource: { ...storedSecond!.resource, status: 'completed' } as Communication, previous: storedSecond!, acl: ACL },
        { resource: { ...storedFirst!.resource, status: 'completed' } as Communication, previous: storedFirst!, acl: ACL },
      ],
    });
    // Waiting for this writer's transaction, and not some other test's statement.
    const waiting = async () => (await service.db.query(`SELECT 1 FROM pg_locks WHERE locktype = 'transactionid' AND transactionid::text = $1 AND NOT granted`, [xid])).rows.length > 0;
    while (!(await waiting())) await new Promise((resolve) => setTimeout(resolve, 20));
    // Now the other writer wants the second letter too: PostgreSQL rolls the commit's statement back.
    await other.query(`SELECT 1 FROM resource WHERE resource_type = 'Communication' AND id = $1 FOR UPDATE`, [second.id]);
    await other.query('COMMIT');
    expect((await commit).outcome).toBe('committed');
  } finally {
    await other.query('ROLLBACK').catch(() => undefined);
    other.release();
  }
  expect(await rowsOf('resource', first.id!)).toEqual([{ version: 2, status: 'completed' }]);
  expect(await rowsOf('resource', second.id!)).toEqual([{ version: 2, status: 'completed' }]);
  let seen = await deadlocks();
  for (let tries = 0; seen === deadlocksBefore && tries < 50; tries += 1) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    seen = await deadlocks();
  }
  expect(seen).toBeGreaterThan(deadlocksBefore);
});

test('a referral whose commit keeps colliding is sent three times, then answers 503 with Retry-After, and nothing is stored', async () => {
  const gp = await service.token('gp', PRACTICE_AGB);
  // PostgreSQL itself reports the collision (SQLSTATE 40P01) on every attempt; the sequence counts them.
  await service.db.query(`CREATE SEQUENCE collisions`);
  await service.db.query(`CREATE FUNCTION collide() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN PERFORM nextval('collisions'); RAISE EXCEPTION USING ERRCODE = 'deadlock_detected', MESSAGE = 'collision for the test'; END $$`);
  await service.db.query(`CREATE TRIGGER collide BEFORE INSERT ON idempotency FOR EACH ROW EXECUTE FUNCTION collide()`);
  const stored = await service.storedRows();
  const body = exampleReferral({ referralId: 'HIS-COLLIDING-1' });
  try {
    const refused = await service.request('POST', '/referrals', { token: gp, body });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(refused.body).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'transient' }] });
    expect((await service.db.query(`SELECT last_value FROM collisions`)).rows[0].last_value).toBe('3');
    expect(await service.storedRows()).toEqual(stored);
  } finally {
    await service.db.query('DROP TRIGGER collide ON idempotency');
    await service.db.query('DROP FUNCTION collide()');
    await service.db.query('DROP SEQUENCE collisions');
  }
  // Sent again once the collisions are over, the same request is stored.
  expect((await service.request('POST', '/referrals', { token: gp, body })).status).toBe(201);
});
