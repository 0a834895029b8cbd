import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

/** A server the service or a test started for itself (PostgreSQL, Redis), stopped by `stop()`. */
export interface LocalServer {
  url: string;
  port: number;
  process: ChildProcess;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * Waits until a freshly spawned server answers (or fails with its own words when it exits or cannot
 * be started), and hands it over with a `stop` that waits for the process to end.
 */
export async function superviseLocalServer(options: {
  name: string;
  child: ChildProcess;
  url: string;
  port: number;
  answers: (url: string) => Promise<boolean>;
  startError?: (error: NodeJS.ErrnoException) => Error;
  timeoutMs: number;
  pollMs: number;
  stopSignal: NodeJS.Signals;
}): Promise<LocalServer> {
  const { name, child, url, port } = options;
  const failed = new Promise<never>((_, reject) => {
    child.once('error', (error: NodeJS.ErrnoException) => reject(options.startError?.(error) ?? error));
    child.once('exit', (code) => reject(new Error(`${name} exited with code ${code}`)));
  });
  failed.catch(() => {});
  const deadline = Date.now() + options.timeoutMs;
  while (!(await Promise.race([options.answers(url), failed]))) {
    if (Date.now() > deadline) throw new Error(`${name} did not answer on port ${port}`);
    await new Promise((resolve) => setTimeout(resolve, options.pollMs));
  }
  return {
    url,
    port,
    process: child,
    stop: (signal = options.stopSignal) =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill(signal);
      }),
  };
}
