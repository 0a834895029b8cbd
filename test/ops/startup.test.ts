import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from '@jest/globals';
import { Redis } from 'ioredis';
import { loadConfig } from '../../src/config.js';
import { parseDirectory } from '../../src/directory/directory.js';
import { startLocalRedis } from '../../src/store/local-redis.js';
import { freePort } from '../../src/store/local-server.js';
import { startService } from '../support/service.js';

describe('start-up refuses what would go wrong later', () => {
  test('a Redis whose maxmemory-policy could evict queue keys is refused with a clear message', async () => {
    const redis = await startLocalRedis({ dir: mkdtempSync(join(tmpdir(), 'wor-lru-')), extraArgs: ['--maxmemory-policy', 'allkeys-lru'] });
    try {
      await expect(startService({ env: { REDIS_URL: redis.url } })).rejects.toThrow(/maxmemory-policy is allkeys-lru; wor-bridge needs noeviction/);
    } finally {
      await redis.stop();
    }
  });

  test('bad configuration names every bad variable', () => {
    expect(() => loadConfig({ PORT: 'eighty', WOR_DIRECTORY: 'x', AUTH_ISSUER: 'i', AUTH_AUDIENCE: 'a', QUEUE_LEASE_SECONDS: '-1' })).toThrow(
      /PORT:[\s\S]*QUEUE_LEASE_SECONDS:/,
    );
    expect(() => loadConfig({ WOR_DIRECTORY: 'x', AUTH_ISSUER: 'i', AUTH_AUDIENCE: 'a' })).toThrow(
      /AUTH_JWKS_FILE: set exactly one of AUTH_JWKS_FILE and AUTH_JWKS_URL/,
    );
  });

  test.each([
    ['a PC4 served by two teams', 'teams:\n  - { id: a, name: A, municipality: L, postcodes: ["2311-2313"] }\n  - { id: b, name: B, municipality: L, postcodes: ["2312"] }\n', /PC4 2312 is also served by a/],
    ['an unknown fallback team', 'teams:\n  - { id: a, name: A, municipality: L, postcodes: ["2311"] }\nrouting: { fallbackTeam: z }\n', /routing.fallbackTeam: no team with id z/],
    ['a malformed AGB', 'teams:\n  - { id: a, name: A, municipality: L, postcodes: ["2311"] }\npractices:\n  - { agb: "123", name: P }\n', /practices.0.agb: an AGB code is 8 digits/],
    ['a team id with capitals', 'teams:\n  - { id: Noord, name: A, municipality: L, postcodes: ["2311"] }\n', /teams.0.id/],
    ['no YAML at all', 'teams: [', /not valid YAML/],
  ])('a directory with %s is refused', (_name, yaml, message) => {
    expect(() => parseDirectory(yaml)).toThrow(message);
  });

  test('the server exits 1 with a message, not a stack trace, on a bad directory', () => {
    const result = spawnSync('node', ['--import', 'tsx', 'src/server.ts'], {
      env: { PATH: process.env.PATH, WOR_DIRECTORY: '/nonexistent.yaml', AUTH_JWKS_FILE: 'config/dev/jwks.json', AUTH_ISSUER: 'i', AUTH_AUDIENCE: 'a', WOR_SECRET: 'x'.repeat(32) },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('wor-bridge cannot start: WOR_DIRECTORY: cannot read /nonexistent.yaml');
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});

const serverRun = (env: Record<string, string>) =>
  spawnSync('node', ['--import', 'tsx', 'src/server.ts'], { env: { PATH: process.env.PATH, ...env }, encoding: 'utf8', timeout: 20_000 });

const DEPLOYMENT = { WOR_DIRECTORY: 'config/directory.example.yaml', AUTH_JWKS_FILE: 'config/dev/jwks.json', AUTH_ISSUER: 'i', AUTH_AUDIENCE: 'a', WOR_SECRET: 'x'.repeat(32) };

describe('development mode only when asked for', () => {
  test('a production start without the auth and directory variables exits 1 naming each missing variable', () => {
    const result = serverRun({ NODE_ENV: 'production', PUBLIC_BASE_URL: 'https://wor.example.nl' });
    expect(result.status).toBe(1);
    for (const name of ['WOR_DIRECTORY', 'AUTH_ISSUER', 'AUTH_AUDIENCE', 'AUTH_JWKS_FILE']) expect(result.stderr).toMatch(new RegExp(`^  ${name}: `, 'm'));
    expect(result.stderr).toContain('wor-bridge cannot start: invalid configuration');
    expect(result.stderr).toContain('npm run dev');
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(result.stdout).not.toContain('development mode');
  });

  test('no configuration and no WOR_DEV is refused even without NODE_ENV', () => {
    const result = serverRun({});
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/^ {2}WOR_DIRECTORY: is not set$/m);
  });

  test.each([
    ['NODE_ENV=production', { NODE_ENV: 'production' }, /WOR_DEV: development mode is refused with NODE_ENV=production/],
    ['an https PUBLIC_BASE_URL', { PUBLIC_BASE_URL: 'https://wor.example.nl' }, /WOR_DEV: development mode is refused with an https PUBLIC_BASE_URL/],
  ])('WOR_DEV=1 together with %s is refused', (_name, env, message) => {
    const result = serverRun({ WOR_DEV: '1', ...env });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(message);
  });

  test('AUTH_JWKS_URL must be https outside development mode', () => {
    const env = { WOR_DIRECTORY: 'x', AUTH_ISSUER: 'i', AUTH_AUDIENCE: 'a', AUTH_JWKS_URL: 'http://idp.example.nl/jwks.json', WOR_SECRET: 'x'.repeat(32) };
    expect(() => loadConfig(env)).toThrow(/AUTH_JWKS_URL: must be an https URL/);
    expect(loadConfig({ ...env, AUTH_JWKS_URL: 'https://idp.example.nl/jwks.json' }).AUTH_JWKS_URL).toBe('https://idp.example.nl/jwks.json');
    expect(loadConfig({ ...env, WOR_DEV: '1' }).AUTH_JWKS_URL).toBe('http://idp.example.nl/jwks.json');
  });

  test('a complete configuration without WOR_DEV starts in production mode on HOST 0.0.0.0 by default', () => {
    expect(loadConfig(DEPLOYMENT).HOST).toBe('0.0.0.0');
  });

  test('WOR_DEV=1 starts with the embedded defaults, listening on 127.0.0.1 only', async () => {
    const port = await freePort();
    const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
    const prefix = `test-dev-${port}`;
    const child = spawn('node', ['--import', 'tsx', 'src/server.ts'], {
      env: { PATH: process.env.PATH, WOR_DEV: '1', PORT: String(port), REDIS_URL: redisUrl, REDIS_KEY_PREFIX: prefix },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    try {
      const deadline = Date.now() + 20_000;
      while (!/Server listening/.test(output) && child.exitCode === null && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
      expect(output).toContain('development mode');
      expect(output).toContain(`http://127.0.0.1:${port}`);
      expect(output.match(/Server listening at/g)).toHaveLength(1);
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      const external = Object.values(networkInterfaces()).flat().find((address) => address?.family === 'IPv4' && !address.internal);
      if (external) await expect(fetch(`http://${external.address}:${port}/healthz`)).rejects.toThrow();
    } finally {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
      const redis = new Redis(redisUrl);
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    }
  });
});
