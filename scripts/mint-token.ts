/**
 * Prints a development access token.
 *   npm run token -- gp 01054321
 *   npm run token -- coach leiden-noord --scope "system/Task.rus" --expires 10m
 */
import { parseArgs } from 'node:util';
import { DEFAULT_SCOPES, mintDevToken } from './dev-token.js';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { scope: { type: 'string' }, expires: { type: 'string', default: '1h' }, 'client-id': { type: 'string' } },
});
const [role, org] = positionals;
if (!role || !org || !(role in DEFAULT_SCOPES)) {
  console.error('usage: npm run token -- <gp|coach|portal|operator> <organisation> [--scope "..."] [--expires 1h] [--client-id id]');
  process.exit(2);
}
console.log(await mintDevToken({ role, org, scope: values.scope, expires: values.expires, clientId: values['client-id'] }));
