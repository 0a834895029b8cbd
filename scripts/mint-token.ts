/**
 * Prints a development access token.
 *   npm run token -- gp 01054321
 *   npm run token -- coach leiden-noord --scope "system/Task.rus" --expires 10m
 *   npm run token -- coach leiden-noord --user medewerker-4711 --name "M. de Wit" --uzi 900012345
 * Bad or missing arguments get the usage line on stderr and exit code 2, never a stack trace.
 */
import { parseArgs } from 'node:util';
import { DEFAULT_SCOPES, mintDevToken } from './dev-token.js';

const USAGE = `usage: npm run token -- <${Object.keys(DEFAULT_SCOPES).join('|')}> <organisation> [--scope "..."] [--expires 1h] [--client-id id] [--user sub --name "..." --uzi 9digits]`;

function refuse(problem?: string): never {
  console.error(problem ? `npm run token: ${problem}\n${USAGE}` : USAGE);
  process.exit(2);
}

const parsed = (() => {
  try {
    return parseArgs({
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
  } catch (error) {
    return refuse((error as Error).message.split('. ')[0]);
  }
})();
const { positionals, values } = parsed;
const [role, org] = positionals;
if (!role || !org || positionals.length > 2) refuse();
if (!(role in DEFAULT_SCOPES)) refuse(`unknown role ${role}`);
const person = { ...(values.user ? { sub: values.user } : {}), ...(values.name ? { name: values.name } : {}), ...(values.uzi ? { uzi_nr: values.uzi } : {}) };
try {
  console.log(await mintDevToken({ role, org, scope: values.scope, expires: values.expires, clientId: values['client-id'], claims: person }));
} catch (error) {
  // jose refuses an --expires it cannot read ("Invalid time period format").
  refuse(`${(error as Error).message} (--expires ${values.expires})`);
}
