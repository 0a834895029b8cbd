import { readFileSync } from 'node:fs';
import { describe, expect, test } from '@jest/globals';
import { parse } from 'yaml';
import { withService } from '../support/service.js';

const { service } = await withService();
const document = parse(readFileSync('openapi.yaml', 'utf8')) as { paths: Record<string, Record<string, unknown>> };
const METHODS = ['get', 'post', 'put', 'patch', 'delete'];
/** MeasureReports are computed for a real team, period and Measure; a made-up value is refused (400). */
const COMPUTED_REPORT_VALUES: Record<string, string> = {
  subject: 'Organization/team-leiden-noord',
  period: '2026-11',
  measure: 'https://wor-bridge.nl/fhir/Measure/wor-outcomes',
};

describe('openapi.yaml, /docs and the CapabilityStatement', () => {
  test('every operation openapi.yaml describes exists in the service', () => {
    const missing = Object.entries(document.paths).flatMap(([path, operations]) =>
      Object.keys(operations)
        .filter((method) => METHODS.includes(method))
        .filter((method) => !service.app.hasRoute({ method: method.toUpperCase() as 'GET', url: path.replace(/\{([^}]+)\}/g, ':$1').replace(':type/:id', ':type/:id') }))
        .filter((method) => !(path === '/docs' && method === 'get'))
        .map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(missing).toEqual([]);
  });

  test('every route of the service is described in openapi.yaml', () => {
    const documented = new Set(
      Object.entries(document.paths).flatMap(([path, operations]) => Object.keys(operations).map((method) => `${method.toUpperCase()} ${path.replace(/\{([^}]+)\}/g, ':$1')}`)),
    );
    // printRoutes draws a tree, four columns per level; rebuild each full path from its ancestors.
    const tree = service.app.printRoutes({ commonPrefix: false });
    const stack: string[] = [];
    const undocumented: string[] = [];
    let routes = 0;
    for (const line of tree.split('\n')) {
      const start = line.search(/[^\s│├└─]/);
      const match = /^(\S+?)(?: \(([A-Z, ]+)\))?$/.exec(line.slice(start).trim());
      if (start < 0 || !match) continue;
      const depth = Math.floor(start / 4);
      stack.length = depth;
      stack[depth] = match[1]!;
      const url = stack.join('');
      if (!match[2] || url.startsWith('/docs') || /^\/fhir\/(StructureDefinition|CodeSystem|ValueSet)/.test(url)) continue;
      for (const method of match[2].split(', ').filter((item) => item !== 'HEAD')) {
        routes += 1;
        const generic = url.replace(/^\/fhir\/(Task|ServiceRequest|Communication)\/:id$/, '/fhir/:type/:id');
        if (!documented.has(`${method} ${url}`) && !documented.has(`${method} ${generic}`)) undocumented.push(`${method} ${url}`);
      }
    }
    expect(routes).toBeGreaterThan(25);
    expect(undocumented).toEqual([]);
  });

  test('/openapi.yaml and /docs are served without a token', async () => {
    const yaml = await service.request('GET', '/openapi.yaml');
    expect(yaml.status).toBe(200);
    expect(String(yaml.body)).toContain('openapi: 3.0.3');
    const docs = await fetch(`${service.baseUrl}/docs/`);
    expect(docs.status).toBe(200);
    expect(await docs.text()).toContain('swagger');
  });

  test('Swagger UI at /docs sends its requests to this deployment (PUBLIC_BASE_URL), not to a fixed localhost', async () => {
    const specification = await fetch(`${service.baseUrl}/docs/json`).then((response) => response.json() as Promise<{ servers: Array<{ url: string }> }>);
    expect(specification.servers.map((server) => server.url)).toEqual([service.config.PUBLIC_BASE_URL]);
    expect(service.config.PUBLIC_BASE_URL).toBe('http://wor-bridge.test');
  });

  test('the CapabilityStatement lists exactly the types and search parameters that work', async () => {
    const metadata = await service.request('GET', '/fhir/metadata');
    expect(metadata.status).toBe(200);
    const task = metadata.body.rest[0].resource.find((resource: any) => resource.type === 'Task');
    expect(task.searchParam.map((param: any) => param.name).sort()).toEqual(
      ['_count', '_cursor', '_id', '_lastUpdated', '_sort', 'based-on', 'business-status', 'focus', 'identifier', 'owner', 'patient', 'requester', 'status'].sort(),
    );
    expect(task.supportedProfile).toEqual(['https://wor-bridge.nl/fhir/StructureDefinition/wor-task']);
    expect(task.interaction.map((interaction: any) => interaction.code)).toEqual(['read', 'vread', 'history-instance', 'search-type', 'update', 'patch']);
    expect(metadata.body.rest[0].interaction).toEqual([expect.objectContaining({ code: 'transaction' })]);
    const token = await service.token('operator', 'regio');
    for (const resource of metadata.body.rest[0].resource) {
      const paged = (resource.searchParam ?? []).some((param: any) => param.name === '_count');
      const response = await service.request('GET', `/fhir/${resource.type}${paged ? '?_count=1' : ''}`, { token });
      expect({ type: resource.type, status: response.status }).toEqual({ type: resource.type, status: 200 });
      for (const param of resource.searchParam ?? []) {
        if (param.name.startsWith('_')) continue;
        const value = COMPUTED_REPORT_VALUES[resource.type === 'MeasureReport' ? param.name : ''] ?? 'x';
        const search = await service.request('GET', `/fhir/${resource.type}?${param.name}=${encodeURIComponent(value)}`, { token });
        expect({ type: resource.type, param: param.name, status: search.status }).toEqual({ type: resource.type, param: param.name, status: 200 });
      }
    }
  });
});
