import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { runner } from 'node-pg-migrate';

export type Db = pg.Pool;
/** The service's connections say who they are: the polling horizon looks only at these. */
export const APPLICATION_NAME = 'wor-bridge';
export type Sql = pg.PoolClient;

/** Where the service keeps its records, for the start-up log: never the credentials. */
export function describeDatabase(url: string, schema: string): { host: string; port: number; database: string; schema: string } {
  const parsed = new URL(url);
  return { host: parsed.hostname, port: Number(parsed.port || 5432), database: decodeURIComponent(parsed.pathname.slice(1)) || 'postgres', schema };
}

/**
 * The service's connection pool: every connection works in the configured schema, and a query that
 * cannot get a connection fails within a few seconds (the request answers 503) instead of waiting.
 */
export function createPool(url: string, schema: string, max = 20): Db {
  const pool = new pg.Pool({
    connectionString: url,
    max,
    connectionTimeoutMillis: 3000,
    idleTimeoutMillis: 30_000,
    options: `-c search_path=${schema}`,
    application_name: APPLICATION_NAME,
  });
  // An idle connection that breaks (the server restarted) is dropped from the pool; nothing else to do.
  pool.on('error', () => {});
  return pool;
}

/** Runs `work` in one transaction: committed when it returns, rolled back when it throws. */
export async function transaction<T>(db: Db, work: (sql: Sql) => Promise<T>): Promise<T> {
  const client = await db.connect();
  // The pool listens for errors of idle connections only: a connection that breaks while checked
  // out (the server killed) would otherwise be an unhandled 'error' event that ends the process.
  // The failure reaches the statement under way, or the next one, as a rejected query; the pool
  // drops the broken connection on release.
  const broken = () => {};
  client.on('error', broken);
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.off('error', broken);
    client.release();
  }
}

const MIGRATIONS = fileURLToPath(new URL('./migrations/', import.meta.url));

/**
 * Brings the schema up to date. Several replicas may start at once: node-pg-migrate holds an
 * advisory lock while it migrates, and the others wait for it.
 */
export async function migrate(url: string, schema: string, log: (message: string) => void = () => {}): Promise<void> {
  await runner({
    databaseUrl: url,
    dir: MIGRATIONS,
    direction: 'up',
    migrationsTable: 'schema_migrations',
    schema,
    createSchema: true,
    advisoryLockMode: 'wait',
    log,
  });
}

/** SQLSTATE classes and socket errors that mean "the database is away", not "the request is wrong". */
export function isDatabaseUnavailable(error: Error & { code?: string }): boolean {
  const code = error.code ?? '';
  return (
    /^(08|57P|53)/.test(code) ||
    /ECONNREFUSED|ECONNRESET|Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/.test(error.message ?? '')
  );
}
