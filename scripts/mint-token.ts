/**
 * Prints a development access token.
 *   npm run token -- gp 01054321
 *   npm run token -- coach leiden-noord --scope "system/Task.rus" --expires 10m
 *   npm run token -- coach leiden-noord --user medewerker-4711 --name "M. de Wit" --uzi 900012345
 */
import { parseArgs } from 'node:util';
import { DEFAULT_SCOPES, mintDevToken } from './dev-token.js';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    scope: { type: 'string' },
    expires: { type: 'string', default: '1h' },
    'client-id': { type: 'string' },
    // The person acting through the client (the audit trail names them): sub, name, uzi_nr.
    user: { type: 'string' },
    name: { type: 'string' },
    uzi: { type: 'string' },
  },
});
const [role, org] = positionals;
if (!role || !org || !(role in DEFAULT_SCOPES)) {
  console.error('usage: npm run token -- <gp|coach|portal|operator> <organisation> [--scope "..."] [--expires 1h] [--client-id id] [--user sub --name "..." --uzi 9digits]');
  process.exit(2);
}
const person = { ...(values.user ? { sub: values.user } : {}), ...(values.name ? { name: values.name } : {}), ...(values.uzi ? { uzi_nr: values.uzi } : {}) };
console.log(await mintDevToken({ role, org, scope: values.scope, expires: values.expires, clientId: values['client-id'], claims: person }));
