import { afterAll, describe, expect, test } from '@jest/globals';
import { createPool, transaction, type Sql } from '../../src/store/postgres.js';
import { runEffects } from '../../src/store/resource-store.js';
import { testDatabaseUrl } from '../support/service.js';

const pool = createPool(testDatabaseUrl(), 'public', 1);
afterAll(() => pool.end());

/** The statements a transaction sends, counted on its own connection. */
function counting(sql: Sql): { sql: Sql; sent: string[] } {
  const sent: string[] = [];
  const query = sql.query.bind(sql) as (...args: unknown[]) => unknown;
  return { sql: Object.assign(Object.create(sql) as Sql, { query: (text: string, ...rest: unknown[]) => (sent.push(text), query(text, ...rest)) }), sent };
}

describe('effects committed with a write', () => {
  test('consecutive effect statements reach PostgreSQL as one statement, in their order, each with its own parameters', async () => {
    const rows = await transaction(pool, async (sql) => {
      await sql.query('CREATE TEMP TABLE effect_row (n int PRIMARY KEY, label text) ON COMMIT DROP');
      const { sql: watched, sent } = counting(sql);
      await runEffects(watched, [
        { text: 'INSERT INTO effect_row (n, label) VALUES ($1, $2)', values: [1, 'one'] },
        { text: 'INSERT INTO effect_row (n, label) SELECT n, $2 FROM unnest($1::int[]) AS t(n)', values: [[2, 3], 'many'] },
        async (inner) => inner.query('UPDATE effect_row SET label = $1 WHERE n = 1', ['changed']),
        { text: 'DELETE FROM effect_row WHERE n = $1', values: [3] },
      ]);
      expect(sent).toHaveLength(3);
      expect(sent[0]).toBe(
        'WITH effect_0 AS (INSERT INTO effect_row (n, label) VALUES ($1, $2)), effect_1 AS (INSERT INTO effect_row (n, label) SELECT n, $4 FROM unnest($3::int[]) AS t(n)) SELECT 1',
      );
      return (await sql.query('SELECT n, label FROM effect_row ORDER BY n')).rows;
    });
    expect(rows).toEqual([
      { n: 1, label: 'changed' },
      { n: 2, label: 'many' },
    ]);
  });

  test('an effect statement that reads instead of writing is refused before anything is sent', async () => {
    await expect(
      transaction(pool, (sql) =>
        runEffects(sql, [{ text: 'SELECT 1 WHERE $1', values: [true] }]),
      ),
    ).rejects.toThrow(/must be an INSERT, UPDATE or DELETE/);
  });
});
