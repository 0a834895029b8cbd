import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { freePort } from '../../src/store/local-server.js';
import { DEV_AUDIENCE, DEV_ISSUER, DEV_SECRET } from '../../src/dev-defaults.js';
import { schemaOf, testDatabaseUrl } from './service.js';

export interface ServiceProcess {
  url: string;
  process: ChildProcess;
  kill(signal: NodeJS.Signals): Promise<void>;
}

/** How the service is started: from source under tsx (the default), the compiled build, or `npm start`. */
export const FROM_SOURCE = ['node', '--import', 'tsx', 'src/server.ts'];

/** The service as its own process (by default `node --import tsx src/server.ts`), for tests that kill it. */
export async function startServiceProcess(env: { REDIS_URL: string; REDIS_KEY_PREFIX: string } & Record<string, string>, command = FROM_SOURCE): Promise<ServiceProcess> {
  const port = await freePort();
  const log = createWriteStream(`test/.logs/${env.REDIS_KEY_PREFIX}-process-${port}.log`, { flags: 'a' });
  const [program, ...args] = command as [string, ...string[]];
  const child = spawn(program, args, {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      PORT: String(port),
      HOST: '127.0.0.1',
      WOR_DIRECTORY: 'config/directory.example.yaml',
      AUTH_JWKS_FILE: 'config/dev/jwks.json',
      AUTH_ISSUER: DEV_ISSUER,
      AUTH_AUDIENCE: DEV_AUDIENCE,
      DATABASE_URL: testDatabaseUrl(),
      DATABASE_SCHEMA: schemaOf(env.REDIS_KEY_PREFIX),
      WOR_SECRET: DEV_SECRET,
      LOG_LEVEL: 'debug',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.pipe(log);
  child.stderr!.pipe(log);
  const url = `http://127.0.0.1:${port}`;
  // Generous: the machine's two cores are shared, and `npm start` compiles TypeScript as it loads.
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`service exited with ${child.exitCode}`);
    if (await fetch(`${url}/readyz`).then((response) => response.ok, () => false)) break;
    if (Date.now() > deadline) {
      // SIGTERM, which a wrapper such as npm passes on, so that no service outlives the test.
      child.kill('SIGTERM');
      throw new Error('service did not become ready');
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url,
    process: child,
    kill: (signal) =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill(signal);
      }),
  };
}
