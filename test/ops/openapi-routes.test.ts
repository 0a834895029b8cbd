import { randomUUID } from 'node:crypto';
import { createWriteStream, readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import Fastify, { type RouteOptions } from 'fastify';
import fp from 'fastify-plugin';
import { Redis } from 'ioredis';
import pg from 'pg';
import { parse as parseYaml } from 'yaml';
import { app } from '../../src/app.js';
import { loadDirectory } from '../../src/directory/directory.js';
import { testConfig, testDatabaseUrl } from '../support/service.js';

/** Swagger UI's own assets under /docs: served by the plugin, not part of the API description. */
const SWAGGER_UI_ASSETS = /^\/docs\/(static\/.*|\*|initOAuth|uiConfig|)$/;

const routes: string[] = [];
const prefix = `test-${randomUUID().slice(0, 8)}`;
const config = testConfig(prefix);

beforeAll(async () => {
  const logStream = createWriteStream(`test/.logs/${prefix}-${process.pid}.log`, { flags: 'a' });
  const instance = Fastify({ logger: { stream: logStream } });
  instance.addHook('onRoute', (route: RouteOptions) => {
    for (const method of [route.method].flat()) {
      if (method !== 'HEAD' && !SWAGGER_UI_ASSETS.test(route.url)) routes.push(`${method} ${route.url.replace(/:(\w+)/g, '{$1}')}`);
    }
  });
  await instance.register(fp(app), { config, directory: loadDirectory(config.WOR_DIRECTORY), secrets: new Map() });
  await instance.ready();
  await instance.close();
  await new Promise((resolve) => logStream.end(resolve));
});

afterAll(async () => {
  const redis = new Redis(config.REDIS_URL);
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
  const db = new pg.Pool({ connectionString: testDatabaseUrl(), max: 1 });
  await db.query(`DROP SCHEMA IF EXISTS ${config.DATABASE_SCHEMA} CASCADE`);
  await db.end();
});

test('every route the service serves is in openapi.yaml with its method, and openapi.yaml describes no other', () => {
  const document = parseYaml(readFileSync('openapi.yaml', 'utf8')) as { paths: Record<string, Record<string, unknown>> };
  const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'patch', 'options'];
  const described = Object.entries(document.paths).flatMap(([path, item]) =>
    Object.keys(item)
      .filter((key) => HTTP_METHODS.includes(key))
      .map((method) => `${method.toUpperCase()} ${path}`),
  );
  expect([...new Set(routes)].sort()).toEqual([...new Set(described)].sort());
});
