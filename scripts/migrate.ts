import { migrate } from '../src/store/postgres.js';

/** `npm run migrate`: brings the schema of DATABASE_URL / DATABASE_SCHEMA up to date, as the service does at start-up. */
const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/wor_bridge';
const schema = process.env.DATABASE_SCHEMA ?? 'public';
try {
  await migrate(url, schema, (message) => console.log(message.trim()));
} catch (error) {
  console.error(`migration failed: ${(error as Error).message}`);
  process.exit(1);
}
