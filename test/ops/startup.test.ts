import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from '@jest/globals';
import { loadConfig } from '../../src/config.js';
import { parseDirectory } from '../../src/directory/directory.js';
import { startLocalRedis } from '../../src/store/local-redis.js';
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
