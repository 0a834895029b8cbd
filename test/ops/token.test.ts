import { spawnSync } from 'node:child_process';
import { describe, expect, test } from '@jest/globals';

const token = (...args: string[]) => spawnSync('node', ['--import', 'tsx', 'scripts/mint-token.ts', ...args], { encoding: 'utf8', timeout: 60_000 });

describe('npm run token', () => {
  test.each([
    ['no arguments', [], /^usage: npm run token -- <gp\|coach\|portal\|operator> <organisation>/m],
    ['an unknown option', ['gp', '01054321', '--colour', 'red'], /^npm run token: Unknown option '--colour'$/m],
    ['an unknown role', ['nurse', '01054321'], /^npm run token: unknown role nurse$/m],
    ['an unreadable --expires', ['gp', '01054321', '--expires', 'soon'], /^npm run token: Invalid time period format \(--expires soon\)$/m],
  ])('%s is answered with the usage line and exit code 2, not a stack trace', (_name, args, message) => {
    const result = token(...args);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).toMatch(/^usage: /m);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(result.stdout).toBe('');
  }, 60_000);

  test('good arguments print only a token', () => {
    const result = token('coach', 'leiden-noord', '--expires', '10m');
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^eyJ[\w-]+\.[\w-]+\.[\w-]+\n$/);
  }, 60_000);
});
