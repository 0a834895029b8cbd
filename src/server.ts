import { fileURLToPath } from 'node:url';
import { buildApp } from './app.js';
import { ConfigError, loadConfig, readSecrets } from './config.js';
import { withDevelopmentDefaults } from './dev-defaults.js';
import { DirectoryError, loadDirectory } from './directory/directory.js';
import { ensureDatabase, postgresAnswers, startLocalPostgres } from './store/local-postgres.js';
import { redisAnswers, startLocalRedis } from './store/local-redis.js';
import type { LocalServer } from './store/local-server.js';
import { RedisPolicyError } from './store/redis.js';

/**
 * Starts the service: config and directory validated first, then PostgreSQL and Redis (in
 * development mode started locally when none answers), then the HTTP listener.
 */
async function main() {
  const { env, development } = withDevelopmentDefaults(process.env);
  const config = loadConfig(env);
  const directory = loadDirectory(config.WOR_DIRECTORY);
  const secrets = readSecrets(directory.secretVariables(), env);

  let localPostgres: LocalServer | undefined;
  if (development && !(await postgresAnswers(config.DATABASE_URL))) {
    const port = Number(new URL(config.DATABASE_URL).port || 5432);
    localPostgres = await startLocalPostgres({ dir: fileURLToPath(new URL('../.postgres-dev/', import.meta.url)), port });
  }
  if (development) await ensureDatabase(config.DATABASE_URL);

  let localRedis: LocalServer | undefined;
  if (development && !(await redisAnswers(config.REDIS_URL))) {
    const port = Number(new URL(config.REDIS_URL).port || 6379);
    localRedis = await startLocalRedis({ dir: fileURLToPath(new URL('../.redis-dev/', import.meta.url)), port });
  }

  const app = await buildApp({ config, directory, secrets });
  if (development) {
    app.log.warn('development mode: example directory and development signing keys (npm run token); never use in production');
  }
  for (const portal of directory.portals.filter((candidate) => candidate.hmacSecretEnv && !secrets.has(candidate.hmacSecretEnv))) {
    app.log.warn({ portal: portal.id, variable: portal.hmacSecretEnv }, 'the signature secret of this portal is not set: its pushes answer 503');
  }
  if (localRedis) app.log.info({ port: localRedis.port }, 'started a local redis-server with AOF in .redis-dev/');
  if (localPostgres) app.log.info({ port: localPostgres.port }, 'started a local PostgreSQL (in .postgres-dev/, or as root in the postgres user\'s home)');

  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'shutting down: no new requests, finishing those in flight');
    try {
      await app.close();
    } finally {
      await localRedis?.stop();
      await localPostgres?.stop();
      process.exit(0);
    }
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));

  await app.listen({ port: config.PORT, host: config.HOST });
}

main().catch((error: Error) => {
  const known = error instanceof ConfigError || error instanceof DirectoryError || error instanceof RedisPolicyError || /redis-server|PostgreSQL|postgres /.test(error.message);
  console.error(known ? `wor-bridge cannot start: ${error.message}` : error);
  process.exit(1);
});
