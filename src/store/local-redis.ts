import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { Redis } from 'ioredis';
import { freePort, superviseLocalServer, type LocalServer } from './local-server.js';

/** Is a Redis answering at this URL? */
export async function redisAnswers(url: string, timeoutMs = 1000): Promise<boolean> {
  const probe = new Redis(url, { lazyConnect: true, connectTimeout: timeoutMs, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  probe.on('error', () => {});
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

/**
 * Starts a private redis-server (Debian's package) with AOF persistence and noeviction, the
 * settings the service needs. Used by `npm start` when no Redis answers, and by tests that kill Redis.
 */
export async function startLocalRedis(options: { dir: string; port?: number; extraArgs?: string[] }): Promise<LocalServer> {
  const port = options.port ?? (await freePort());
  mkdirSync(options.dir, { recursive: true });
  const args = [
    '--port', String(port), '--bind', '127.0.0.1', '--dir', options.dir, '--save', '',
    '--appendonly', 'yes', '--appendfsync', 'everysec', '--maxmemory-policy', 'noeviction',
    ...(options.extraArgs ?? []),
  ];
  return superviseLocalServer({
    name: 'redis-server',
    child: spawn('redis-server', args, { stdio: 'ignore' }),
    url: `redis://127.0.0.1:${port}`,
    port,
    answers: (url) => redisAnswers(url, 200),
    startError: (error) => new Error(error.code === 'ENOENT' ? 'redis-server is not installed (Debian: apt-get install -y redis-server)' : error.message),
    timeoutMs: 10_000,
    pollMs: 50,
    stopSignal: 'SIGTERM',
  });
}
