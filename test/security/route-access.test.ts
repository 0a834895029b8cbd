import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { describe, expect, test } from '@jest/globals';
import type { FastifyRequest } from 'fastify';
import { Redis } from 'ioredis';
import pg from 'pg';
import { buildApp } from '../../src/app.js';
import { checkAccess } from '../../src/auth/route-access.js';
import { parseScopes } from '../../src/auth/scopes.js';
import { loadDirectory } from '../../src/directory/directory.js';
import { FhirError } from '../../src/fhir/operation-outcome.js';
import { testConfig, testDatabaseUrl } from '../support/service.js';

describe('routes declare who may call them', () => {
  test('a route added without roles or public refuses the boot, naming the route', async () => {
    const prefix = `test-${randomUUID().slice(0, 8)}`;
    const config = testConfig(prefix);
    const logStream = createWriteStream(`test/.logs/${prefix}-${process.pid}.log`, { flags: 'a' });
    const app = await buildApp({ config, directory: loadDirectory(config.WOR_DIRECTORY), secrets: new Map(), logStream });
    app.get('/forgotten', async () => ({ secret: true }));
    app.post('/declared', { config: { roles: ['operator'] } }, async () => ({}));
    const boot = await app.ready().then(() => undefined, (error: Error) => error.message);
    const redis = new Redis(config.REDIS_URL);
    const db = new pg.Pool({ connectionString: testDatabaseUrl(), max: 1 });
    try {
      expect(boot).toMatch(/routes that declare no callers.*GET \/forgotten/);
      expect(boot).not.toMatch(/\/declared/);
    } finally {
      await app.close();
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length > 0) await redis.del(...keys);
      await db.query(`DROP SCHEMA IF EXISTS ${config.DATABASE_SCHEMA} CASCADE`);
      await Promise.all([db.end(), redis.quit(), new Promise((resolve) => logStream.end(resolve))]);
    }
  });

  test('a request that reaches a route without a declaration is refused with 403 (fail closed)', () => {
    const operator = { role: 'operator' as const, org: 'ops', clientId: 'test', grants: parseScopes('system/*.cruds') };
    let refused: unknown;
    try {
      checkAccess(operator, {}, {} as FastifyRequest);
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(FhirError);
    expect((refused as FhirError).statusCode).toBe(403);
  });

  test('a declared scope that the token lacks is refused with 403 before the handler', () => {
    const gp = { role: 'gp' as const, org: '01234567', clientId: 'test', grants: parseScopes('system/ServiceRequest.r') };
    expect(() => checkAccess(gp, { roles: ['gp'], scope: 'ServiceRequest.r' }, {} as FastifyRequest)).not.toThrow();
    expect(() => checkAccess(gp, { roles: ['gp'], scope: ['ServiceRequest.r', 'Task.u'] }, {} as FastifyRequest)).toThrow(/system\/Task\.u/);
    expect(() => checkAccess(gp, { roles: ['coach'], scope: 'ServiceRequest.r' }, {} as FastifyRequest)).toThrow(/role coach/);
  });
});
