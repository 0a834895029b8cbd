import { existsSync, readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, test } from '@jest/globals';
import { Redis } from 'ioredis';
import { mintDevToken } from '../../scripts/dev-token.js';
import { exampleTransaction } from '../fixtures/fhir-transaction.js';
import { startServiceProcess, type ServiceProcess } from '../support/service-process.js';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const COMPILED = 'dist/server.js';

const running: Array<{ service: ServiceProcess; prefix: string }> = [];
afterEach(async () => {
  for (const { service, prefix } of running.splice(0)) {
    await service.kill('SIGKILL');
    const redis = new Redis(REDIS_URL);
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  }
});

async function start(command: string[], env: Record<string, string> = {}) {
  const prefix = `test-proc-${randomUUID().slice(0, 8)}`;
  const service = await startServiceProcess({ REDIS_URL, REDIS_KEY_PREFIX: prefix, ...env }, command);
  running.push({ service, prefix });
  return { service, log: () => readFileSync(`test/.logs/${prefix}-process-${new URL(service.url).port}.log`, 'utf8') };
}

/** Whether anything still listens on the service's port (a node left behind by a wrapper would). */
const answers = (url: string) => fetch(`${url}/healthz`).then(() => true, () => false);

describe('signals reach the service', () => {
  test.each(['SIGTERM', 'SIGINT'] as const)('npm start stops gracefully when the PID a supervisor holds gets %s', async (signal) => {
    const { service, log } = await start(['npm', 'start']);
    const exited = new Promise<number | null>((resolve) => service.process.once('exit', (code) => resolve(code)));
    service.process.kill(signal);
    await exited;
    expect(await answers(service.url)).toBe(false);
    expect(log()).toContain(`"signal":"${signal}"`);
    expect(log()).toContain('shutting down');
  }, 180_000);
});

// CI builds first (.ci/run: npm run build); a checkout without dist/ skips these.
(existsSync(COMPILED) ? describe : describe.skip)('the compiled build (node dist/server.js)', () => {
  test('it serves a FHIR transaction, checked against the profiles and base definitions it finds from dist/, and stops on SIGTERM', async () => {
    const { service, log } = await start(['node', COMPILED], { PUBLIC_BASE_URL: 'https://wor.example.nl' });
    const gp = await mintDevToken({ role: 'gp', org: '01054321' });
    const submit = (body: unknown) =>
      fetch(`${service.url}/fhir`, { method: 'POST', headers: { authorization: `Bearer ${gp}`, 'content-type': 'application/fhir+json' }, body: JSON.stringify(body) });

    const accepted = await submit(exampleTransaction(`DIST-${randomUUID().slice(0, 8)}`));
    expect(accepted.status).toBe(200);
    expect(((await accepted.json()) as { type: string }).type).toBe('transaction-response');

    const withoutBsn = exampleTransaction(`DIST-${randomUUID().slice(0, 8)}`);
    const patientIndex = withoutBsn.entry.findIndex((entry: any) => entry.resource.resourceType === 'Patient');
    delete withoutBsn.entry[patientIndex].resource.identifier;
    const refused = await submit(withoutBsn);
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { issue: Array<{ expression: string[] }> }).issue.flatMap((issue) => issue.expression)).toContain(`Bundle.entry[${patientIndex}].resource.identifier`);

    expect((await fetch(`${service.url}/openapi.yaml`)).status).toBe(200);
    const docs = (await (await fetch(`${service.url}/docs/json`)).json()) as { servers: Array<{ url: string }> };
    expect(docs.servers.map((server) => server.url)).toEqual(['https://wor.example.nl']);
    const metadata = (await (await fetch(`${service.url}/fhir/metadata`)).json()) as { rest: Array<{ resource: Array<{ type: string; supportedProfile?: string[] }> }> };
    expect(metadata.rest[0]!.resource.find((resource) => resource.type === 'Task')?.supportedProfile).toEqual(['https://wor-bridge.nl/fhir/StructureDefinition/wor-task']);

    const exited = new Promise<number | null>((resolve) => service.process.once('exit', (code) => resolve(code)));
    service.process.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(log()).toContain('shutting down');
  }, 180_000);
});
