import { readFileSync } from 'node:fs';
import { describe, expect, test } from '@jest/globals';
import { envSchema, loadConfig } from '../../src/config.js';

/** The rows of the README's configuration table: variable, default as written, production must set. */
function readmeTable() {
  const readme = readFileSync('README.md', 'utf8');
  const section = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('\n## ', readme.indexOf('## Configuration') + 1));
  return section
    .split('\n')
    .filter((line) => /^\| `[A-Z_]+` \|/.test(line))
    .map((line) => {
      const [name, defaultCell, mustSet] = line.split(' | ').map((cell) => cell.replace(/^\| /, ''));
      // The first code span is the default; "—" (possibly with a development value after it) is none.
      const written = /^`([^`]*)`/.exec(defaultCell!)?.[1];
      return { name: name!.replaceAll('`', ''), written, mustSet: mustSet! };
    });
}

const MINIMAL_DEPLOYMENT = { WOR_SECRET: 'x'.repeat(32), WOR_DIRECTORY: 'd.yaml', AUTH_ISSUER: 'i', AUTH_AUDIENCE: 'a', AUTH_JWKS_FILE: 'k.json' };

describe('the README configuration table and the schema in src/config.ts', () => {
  const rows = readmeTable();
  const shape = envSchema.shape as Record<string, { safeParse(value: unknown): { success: boolean } }>;

  test('the table lists every variable of the schema, once, and nothing else', () => {
    expect(rows.map((row) => row.name).sort()).toEqual(Object.keys(shape).sort());
  });

  test('each default in the table is the one the service applies', () => {
    const config = loadConfig(MINIMAL_DEPLOYMENT) as unknown as Record<string, unknown>;
    const applied = rows.map(({ name }) => ({ name, default: name in MINIMAL_DEPLOYMENT || config[name] === undefined ? undefined : String(config[name]) }));
    const written = rows.map(({ name, written }) => ({ name, default: written?.replace('$PORT', String(config.PORT)) }));
    expect(written).toEqual(applied);
  });

  test('"production must set: yes" is written exactly for the variables without which the service refuses to start', () => {
    const required = rows.filter(({ name }) => !shape[name]!.safeParse(undefined).success).map(({ name }) => name);
    expect(rows.filter((row) => row.mustSet === 'yes').map((row) => row.name)).toEqual(required);
    expect(rows.filter((row) => row.mustSet === 'one of two').map((row) => row.name)).toEqual(['AUTH_JWKS_FILE', 'AUTH_JWKS_URL']);
  });
});
