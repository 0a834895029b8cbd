import { fileURLToPath } from 'node:url';

/**
 * The embedded development defaults that let `npm start` run on a fresh machine: the example
 * directory and the development JWKS (whose private key signs tokens from `npm run token`).
 * All or nothing: they apply only when none of the variables below is set, so a deployment that
 * forgets one of them fails at start-up instead of silently trusting the development key.
 */
export const DEV_ISSUER = 'https://wor-bridge.local/dev-issuer';
export const DEV_AUDIENCE = 'wor-bridge';
/** The signature secret of the example directory's portal (ZORGDOMEIN_HMAC_SECRET) in development mode. */
export const DEV_PORTAL_SECRET = 'development-portal-secret';
/** The keyed-hash secret (WOR_SECRET) in development mode and tests. */
export const DEV_SECRET = 'development-secret-never-use-in-production';

const DEPLOYMENT_VARIABLES = ['WOR_DIRECTORY', 'AUTH_ISSUER', 'AUTH_AUDIENCE', 'AUTH_JWKS_FILE', 'AUTH_JWKS_URL'];

const fromRoot = (path: string) => fileURLToPath(new URL(`../${path}`, import.meta.url));

export function withDevelopmentDefaults(env: NodeJS.ProcessEnv): { env: NodeJS.ProcessEnv; development: boolean } {
  if (DEPLOYMENT_VARIABLES.some((name) => env[name])) return { env, development: false };
  return {
    development: true,
    env: {
      ...env,
      WOR_DIRECTORY: fromRoot('config/directory.example.yaml'),
      AUTH_ISSUER: DEV_ISSUER,
      AUTH_AUDIENCE: DEV_AUDIENCE,
      AUTH_JWKS_FILE: fromRoot('config/dev/jwks.json'),
      WOR_SECRET: env.WOR_SECRET ?? DEV_SECRET,
    },
  };
}
