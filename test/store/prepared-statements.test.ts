import { afterAll, describe, expect, test } from '@jest/globals';
import { createPool } from '../../src/store/postgres.js';
import { testDatabaseUrl } from '../support/service.js';

// One connection, so that what it has prepared is what the statements below left there.
const pool = createPool(testDatabaseUrl(), 'public', 1);
afterAll(() => pool.end());

const preparedStatements = async () =>
  (await pool.query<{ statement: string }>('SELECT statement FROM pg_prepared_statements')).rows.map((row) => row.statement);

describe('statements prepared per connection', () => {
  test('a statement with parameters is prepared the first time and reused, its plan kept where a generic one costs no more', async () => {
    const text = 'SELECT relname FROM pg_class WHERE oid = $1::oid';
    expect((await pool.query(text, [1259])).rows).toEqual([{ relname: 'pg_class' }]);
    expect((await pool.query(text, [1247])).rows).toEqual([{ relname: 'pg_type' }]);
    expect((await preparedStatements()).filter((statement) => statement.includes(text))).toHaveLength(1);
    expect((await pool.query('SHOW plan_cache_mode')).rows[0].plan_cache_mode).toBe('auto');
    // After five runs planned for their values, PostgreSQL keeps a generic plan when it is no dearer.
    for (let run = 0; run < 5; run += 1) await pool.query(text, [1259]);
    const { rows } = await pool.query('SELECT custom_plans, generic_plans FROM pg_prepared_statements WHERE statement = $1', [text]);
    expect(rows).toEqual([{ custom_plans: '5', generic_plans: '2' }]);
  });

  test('a statement whose result columns follow the table (SELECT *, c.*) is never prepared: a migration could change them under it', async () => {
    await pool.query('SELECT * FROM pg_class WHERE oid = $1::oid', [1259]);
    await pool.query('SELECT c.* FROM pg_class c WHERE c.oid = $1::oid', [1259]);
    await pool.query('SELECT count(*) AS n FROM pg_class WHERE oid = $1::oid', [1259]);
    const prepared = await preparedStatements();
    expect(prepared.filter((statement) => /pg_class/.test(statement))).toEqual(expect.arrayContaining(['SELECT count(*) AS n FROM pg_class WHERE oid = $1::oid']));
    expect(prepared.filter((statement) => /\*\s*FROM/.test(statement))).toEqual([]);
  });

  test('a write that returns nothing is prepared even when it copies whole rows (INSERT … SELECT *); one that returns them (RETURNING *) is not', async () => {
    await pool.query('CREATE TEMP TABLE copied (id int, name text)');
    const copy = 'INSERT INTO copied SELECT * FROM json_populate_recordset(NULL::copied, $1)';
    const returning = 'INSERT INTO copied SELECT * FROM json_populate_recordset(NULL::copied, $1) RETURNING *';
    await pool.query(copy, [JSON.stringify([{ id: 1, name: 'een' }])]);
    expect((await pool.query(returning, [JSON.stringify([{ id: 2, name: 'twee' }])])).rows).toEqual([{ id: 2, name: 'twee' }]);
    const prepared = await preparedStatements();
    expect(prepared).toContain(copy);
    expect(prepared).not.toContain(returning);
  });

  test('a statement without parameters runs as sent, unprepared', async () => {
    await pool.query('SELECT 1 AS one');
    expect(await preparedStatements()).not.toContain('SELECT 1 AS one');
  });
});
