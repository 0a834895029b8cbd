import { createHash } from 'node:crypto';
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
export function createPool(url: string, schema: string, max: number): Db {
  const pool = new pg.Pool({
    connectionString: url,
    max,
    connectionTimeoutMillis: 3000,
    idleTimeoutMillis: 30_000,
    // PostgreSQL's default, pinned: a prepared statement is planned for its values five times, then
    // keeps one generic plan where that costs no more. A commit's plan took a third of its time.
    options: `-c search_path=${schema} -c plan_cache_mode=auto`,
    application_name: APPLICATION_NAME,
  });
  // An idle connection that breaks (the server restarted) is dropped from the pool; nothing else to do.
  pool.on('error', () => {});
  pool.on('connect', prepareParameterisedStatements(new StatementNames()));
  return pool;
}

/** Texts prepared per connection at most: search shapes a client invents cannot grow a connection without bound. */
const MAX_PREPARED = 200;
/** Result columns that follow the table (`SELECT *`, `r.*`, `RETURNING *`): a migration adding a column would break such a prepared statement in a running replica. */
const RESULT_FOLLOWS_TABLE = /(^|[\s,.(])\*\s*(FROM\b|$)|RETURNING\s+\*/i;
/** A write that returns nothing (`INSERT INTO t SELECT * FROM …` included): it has no result columns to change. */
const RETURNS_NO_ROWS = /^\s*(INSERT|UPDATE|DELETE)\b(?![\s\S]*\bRETURNING\b)/i;

/** A name per statement text worth preparing: derived from the text, so one name is always one text. */
class StatementNames {
  private readonly names = new Map<string, string>();

  of(text: string): string | undefined {
    const known = this.names.get(text);
    if (known !== undefined || this.names.size >= MAX_PREPARED || (RESULT_FOLLOWS_TABLE.test(text) && !RETURNS_NO_ROWS.test(text))) return known;
    const name = `wor_${createHash('sha256').update(text).digest('base64url').slice(0, 22)}`;
    this.names.set(text, name);
    return name;
  }
}

/**
 * Statements with parameters run as prepared statements: PostgreSQL parses and analyses one the
 * first time a connection runs it and reuses that afterwards (and its plan, where a generic one
 * serves), which is most of the parsing and planning the database does per referral. Applied to
 * every connection as the pool opens it.
 */
function prepareParameterisedStatements(names: StatementNames): (client: pg.PoolClient) => void {
  return (client) => {
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    client.query = ((text: unknown, values: unknown, ...rest: unknown[]) => {
      const name = typeof text === 'string' && Array.isArray(values) ? names.of(text) : undefined;
      return name ? query({ name, text, values }, ...rest) : query(text, values, ...rest);
    }) as typeof client.query;
  };
}

/** The statement with its parameters renumbered from `offset + 1`, to go after another statement's parameters. */
export function shiftParameters(text: string, offset: number): string {
  return text.replace(/\$(\d+)/g, (_, number: string) => `$${Number(number) + offset}`);
}

/** One statement built from parts, each part's parameters numbered after those before it. */
export class StatementBuilder {
  readonly values: unknown[] = [];

  /** The placeholder of a new parameter. */
  bind(value: unknown): string {
    return `$${this.values.push(value)}`;
  }

  /** The text of a statement written with its own `$1`, `$2`…, renumbered to follow. */
  embed({ text, values }: { text: string; values: unknown[] }): string {
    const shifted = shiftParameters(text, this.values.length);
    this.values.push(...values);
    return shifted;
  }
}

/** How a transaction sees concurrent commits: `snapshot` reads one snapshot throughout and writes nothing. */
const TRANSACTION_MODES = { default: '', snapshot: ' ISOLATION LEVEL REPEATABLE READ, READ ONLY' } as const;

/** Runs `work` in one transaction: committed when it returns, rolled back when it throws. */
export async function transaction<T>(db: Db, work: (sql: Sql) => Promise<T>, mode: keyof typeof TRANSACTION_MODES = 'default'): Promise<T> {
  const client = await db.connect();
  // The pool listens for errors of idle connections only: a connection that breaks while checked
  // out (the server killed) would otherwise be an unhandled 'error' event that ends the process.
  // The failure reaches the statement under way, or the next one, as a rejected query; the pool
  // drops the broken connection on release.
  const broken = () => {};
  client.on('error', broken);
  try {
    await client.query(`BEGIN${TRANSACTION_MODES[mode]}`);
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

/**
 * A statement PostgreSQL rolled back because of concurrent writers (deadlock, serialization failure):
 * the same request, sent again, can succeed.
 */
export const isConcurrencyFailure = (error: Error & { code?: string }): boolean => /^40(P01|001)$/.test(error.code ?? '');

/** SQLSTATE classes and socket errors that mean "the database is away", not "the request is wrong". */
export function isDatabaseUnavailable(error: Error & { code?: string }): boolean {
  const code = error.code ?? '';
  return (
    /^(08|57P|53)/.test(code) ||
    /ECONNREFUSED|ECONNRESET|Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/.test(error.message ?? '')
  );
}
