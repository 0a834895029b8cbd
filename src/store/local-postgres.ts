import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { superviseLocalServer, type LocalServer } from './local-server.js';

/** Does a PostgreSQL answer at this URL (any database)? */
export async function postgresAnswers(url: string, timeoutMs = 1000): Promise<boolean> {
  const client = new pg.Client({ connectionString: withDatabase(url, 'postgres'), connectionTimeoutMillis: timeoutMs });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/** Creates the URL's database when the server has none of that name (development and tests). */
export async function ensureDatabase(url: string): Promise<void> {
  const database = decodeURIComponent(new URL(url).pathname.slice(1));
  if (!database || database === 'postgres') return;
  const client = new pg.Client({ connectionString: withDatabase(url, 'postgres'), connectionTimeoutMillis: 3000 });
  await client.connect();
  try {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (exists.rowCount === 0) await client.query(`CREATE DATABASE "${database.replace(/"/g, '""')}"`).catch((error: { code?: string }) => {
      if (error.code !== '42P04') throw error; // created by a concurrent starter
    });
  } finally {
    await client.end();
  }
}

/** Debian's server binaries (postgresql-NN), newest first. */
function postgresBinaries(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((name) => existsSync(join(root, name, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a)) : [];
  if (versions.length === 0) throw new Error('PostgreSQL server binaries are not installed (Debian: apt-get install -y postgresql)');
  return join(root, versions[0]!, 'bin');
}

/**
 * Starts a private PostgreSQL cluster from Debian's binaries in `dir` (initialised on first use,
 * trust authentication on 127.0.0.1 only). PostgreSQL refuses to run as root, so as root the cluster
 * belongs to the `postgres` user and lives in its home (`localPostgresDir`). Used by `npm start`
 * when no PostgreSQL answers, and by tests that kill it.
 */
export async function startLocalPostgres(options: { dir: string; port: number }): Promise<LocalServer> {
  const bin = postgresBinaries();
  // As root, the server runs as `postgres` itself (no runuser in between), so signals reach it.
  const owner = process.getuid?.() === 0 ? postgresUser() : undefined;
  const dir = localPostgresDir(options.dir);
  mkdirSync(dir, { recursive: true });
  const as = { cwd: dir, ...(owner ? { uid: owner.uid, gid: owner.gid } : {}) };
  if (!existsSync(join(dir, 'PG_VERSION'))) {
    execFileSync(join(bin, 'initdb'), ['-D', dir, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C.UTF-8'], { stdio: 'ignore', ...as });
  }
  const args = ['-D', dir, '-p', String(options.port), '-c', 'listen_addresses=127.0.0.1', '-k', dir, '-c', 'fsync=on'];
  return superviseLocalServer({
    name: 'postgres',
    child: spawn(join(bin, 'postgres'), args, { stdio: 'ignore', ...as }),
    url: `postgres://postgres@127.0.0.1:${options.port}/postgres`,
    port: options.port,
    answers: (url) => postgresAnswers(url, 300),
    timeoutMs: 30_000,
    pollMs: 100,
    // A fast shutdown: sessions end, what was committed is on disk.
    stopSignal: 'SIGINT',
  });
}

interface PostgresUser {
  uid: number;
  gid: number;
  home: string;
}

function postgresUser(): PostgresUser {
  const [, , uid, gid, , home] = execFileSync('getent', ['passwd', 'postgres']).toString().trim().split(':');
  return { uid: Number(uid), gid: Number(gid), home: home! };
}

/**
 * Where the cluster of a requested folder lives. As root, not in the project folder: the `postgres`
 * user may not reach it (a checkout under /root, a mktemp folder). It lives in that user's home
 * instead, one folder per requested folder, and stays there across restarts as `.postgres-dev/` would.
 */
export function localPostgresDir(requested: string): string {
  if (process.getuid?.() !== 0) return requested;
  const owner = postgresUser();
  const root = join(owner.home, 'wor-bridge');
  const dir = join(root, createHash('sha256').update(resolve(requested)).digest('hex').slice(0, 16));
  for (const folder of [root, dir]) {
    mkdirSync(folder, { recursive: true });
    chownSync(folder, owner.uid, owner.gid);
  }
  return dir;
}
