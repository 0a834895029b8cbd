import { createWriteStream } from 'node:fs';
import { afterAll, beforeAll } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { buildApp } from '../../src/app.js';
import { loadConfig, readSecrets, type Config } from '../../src/config.js';
import { DEV_AUDIENCE, DEV_ISSUER, DEV_SECRET } from '../../src/dev-defaults.js';
import pg from 'pg';
import { stringify as toYaml } from 'yaml';
import { loadDirectory, parseDirectory, type Directory, type DirectoryFile } from '../../src/directory/directory.js';
import { mintDevToken, type DevTokenOptions } from '../../scripts/dev-token.js';

export interface Response<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

export interface RequestOptions {
  token?: string;
  body?: unknown;
  /** Sent as-is instead of JSON. */
  rawBody?: string;
  headers?: Record<string, string>;
}

export interface TestService {
  app: FastifyInstance;
  baseUrl: string;
  config: Config;
  redis: Redis;
  /** A connection to the service's PostgreSQL schema, to assert on what is stored. */
  db: pg.Pool;
  prefix: string;
  request<T = any>(method: string, path: string, options?: RequestOptions): Promise<Response<T>>;
  token(role: string, org: string, options?: Omit<DevTokenOptions, 'role' | 'org'>): Promise<string>;
  /** Keys under this service's prefix matching a pattern (after the prefix). */
  keys(pattern: string): Promise<string[]>;
  /**
   * Rows in each table that holds a request's records (the audit trail aside, which records refusals
   * too): equal before and after, nothing was stored.
   */
  storedRows(): Promise<Record<string, number>>;
  close(): Promise<void>;
}

export interface ServiceOptions {
  /** The service's own directory instead of config/directory.example.yaml (see test/support/directory.ts). */
  directory?: DirectoryFile;
  env?: Record<string, string>;
  /** Share the key prefix and schema of another service (two processes on one store). */
  prefix?: string;
}

/** The configuration of a test service: the test Redis and PostgreSQL, under a key prefix and schema of its own. */
export function testConfig(prefix: string, env: Record<string, string> = {}): Config {
  return loadConfig({
    WOR_DIRECTORY: 'config/directory.example.yaml',
    AUTH_JWKS_FILE: 'config/dev/jwks.json',
    AUTH_ISSUER: DEV_ISSUER,
    AUTH_AUDIENCE: DEV_AUDIENCE,
    REDIS_URL: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
    REDIS_KEY_PREFIX: prefix,
    DATABASE_URL: testDatabaseUrl(),
    DATABASE_SCHEMA: schemaOf(prefix),
    WOR_SECRET: DEV_SECRET,
    LOG_LEVEL: 'debug',
    PUBLIC_BASE_URL: 'http://wor-bridge.test',
    ...env,
  });
}

/**
 * Starts the real service on a free port against the test Redis, with a key prefix of its own and
 * debug logs in test/.logs (checked for patient data after the run).
 */
export async function startService(options: ServiceOptions = {}): Promise<TestService> {
  const prefix = options.prefix ?? `test-${randomUUID().slice(0, 8)}`;
  const config = testConfig(prefix, options.env);
  const directory: Directory = options.directory ? parseDirectory(toYaml(options.directory)) : loadDirectory(config.WOR_DIRECTORY);
  const logStream = createWriteStream(`test/.logs/${prefix}-${process.pid}-${randomUUID().slice(0, 4)}.log`, { flags: 'a' });
  // Tests set the secrets the directory names (portal signature, GP token) in process.env before starting.
  const app = await buildApp({ config, directory, secrets: readSecrets(directory.secretVariables(), process.env), logStream });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address() as { port: number };
  const baseUrl = `http://127.0.0.1:${address.port}`;
  const redis = new Redis(config.REDIS_URL);
  const db = new pg.Pool({ connectionString: config.DATABASE_URL, options: `-c search_path=${config.DATABASE_SCHEMA}`, max: 2 });

  return {
    app,
    baseUrl,
    config,
    redis,
    db,
    prefix,
    async request(method, path, { token, body, rawBody, headers = {} } = {}) {
      const response = await fetch(`${baseUrl}${path}`, {
        method,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(body !== undefined ? { 'content-type': 'application/fhir+json' } : {}),
          ...headers,
        },
        body: rawBody ?? (body !== undefined ? JSON.stringify(body) : undefined),
      });
      const text = await response.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        // not JSON (metrics, yaml)
      }
      return { status: response.status, headers: response.headers, body: parsed as any };
    },
    token: (role, org, tokenOptions = {}) => mintDevToken({ role, org, ...tokenOptions }),
    keys: (pattern) => redis.keys(`${prefix}:${pattern}`),
    async storedRows() {
      const tables = ['resource', 'resource_version', 'search_index', 'idempotency', 'referral_master_data', 'timer', 'inbound_message', 'outbox'];
      const { rows } = await db.query<Record<string, string>>(`SELECT ${tables.map((table) => `(SELECT count(*) FROM ${table}) AS ${table}`).join(', ')}`);
      return Object.fromEntries(Object.entries(rows[0]!).map(([table, count]) => [table, Number(count)]));
    },
    async close() {
      await app.close();
      if (!options.prefix) {
        const keys = await redis.keys(`${prefix}:*`);
        for (let i = 0; i < keys.length; i += 500) await redis.del(...keys.slice(i, i + 500));
        await db.query(`DROP SCHEMA IF EXISTS ${config.DATABASE_SCHEMA} CASCADE`);
      }
      await db.end();
      redis.disconnect();
      await new Promise((resolve) => logStream.end(resolve));
    },
  };
}

export const testDatabaseUrl = () => process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** The PostgreSQL schema of a test service: its key prefix as an SQL identifier. */
export const schemaOf = (prefix: string) => prefix.toLowerCase().replace(/[^a-z0-9_]/g, '_');

type TokenSpec = [role: string, org: string, options?: Omit<DevTokenOptions, 'role' | 'org'>];

/**
 * The set-up most test files share, called once at the top of the file with `await`: the service
 * starts before the file's tests (beforeAll) and stops after them (afterAll); the named tokens are
 * minted at once. `service` stands for the started service from beforeAll on. Options known only
 * once the file's earlier beforeAll hooks have run (a port, a key file) come from `later`.
 */
export async function withService<Name extends string = never>(
  options: ServiceOptions & { tokens?: Record<Name, TokenSpec> } = {},
  later?: () => ServiceOptions | Promise<ServiceOptions>,
): Promise<{ service: TestService } & Record<Name, string>> {
  const { tokens = {} as Record<Name, TokenSpec>, ...serviceOptions } = options;
  let started: TestService | undefined;
  beforeAll(async () => {
    started = await startService({ ...serviceOptions, ...(await later?.()) });
  });
  afterAll(() => started?.close());
  const service = new Proxy({} as TestService, {
    get(_target, property: keyof TestService) {
      if (!started) throw new Error('the service starts in beforeAll; use it inside a hook or a test');
      return started[property];
    },
  });
  const minted = await Promise.all(
    (Object.entries(tokens) as Array<[Name, TokenSpec]>).map(async ([name, [role, org, tokenOptions]]) => [name, await mintDevToken({ role, org, ...tokenOptions })] as const),
  );
  return { service, ...(Object.fromEntries(minted) as Record<Name, string>) };
}
