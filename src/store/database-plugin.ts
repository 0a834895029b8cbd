import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { createPool, describeDatabase, migrate, type Db } from './postgres.js';

declare module 'fastify' {
  interface FastifyInstance {
    db: Db;
  }
}

/** The PostgreSQL pool, with the schema brought up to date before anything else uses it. */
export default fp(
  async function database(app: FastifyInstance) {
    const { DATABASE_URL, DATABASE_SCHEMA, DATABASE_POOL_SIZE } = app.config;
    await migrate(DATABASE_URL, DATABASE_SCHEMA, (message) => app.log.debug({ migration: message.trim() }, 'migration'));
    const db = createPool(DATABASE_URL, DATABASE_SCHEMA, DATABASE_POOL_SIZE);
    app.decorate('db', db);
    app.log.info({ postgres: describeDatabase(DATABASE_URL, DATABASE_SCHEMA) }, 'using PostgreSQL');
    app.addHook('onClose', async () => db.end());
  },
  { name: 'database', dependencies: ['config'] },
);
