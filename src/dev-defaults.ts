import { fileURLToPath } from 'node:url';

/**
 * Development mode (`WOR_DEV=1`, what `npm start` and `npm run dev` set): the example directory and
 * the development JWKS, whose private key is in this repository (`npm run token` signs with it), and
 * a listener on 127.0.0.1 unless HOST says otherwise. Never implied by missing configuration: without
 * WOR_DEV the service refuses to start until every variable is set, and config.ts refuses WOR_DEV
 * together with NODE_ENV=production or an https PUBLIC_BASE_URL. The defaults are all or nothing:
 * they apply only when none of the deployment variables below is set.
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
  if (env.WOR_DEV !== '1') return { env, development: false };
  const local = { ...env, HOST: env.HOST || '127.0.0.1', ZORGDOMEIN_HMAC_SECRET: env.ZORGDOMEIN_HMAC_SECRET ?? DEV_PORTAL_SECRET };
  if (DEPLOYMENT_VARIABLES.some((name) => env[name])) return { env: local, development: true };
  return {
    development: true,
    env: {
      ...local,
      WOR_DIRECTORY: fromRoot('config/directory.example.yaml'),
      AUTH_ISSUER: DEV_ISSUER,
      AUTH_AUDIENCE: DEV_AUDIENCE,
      AUTH_JWKS_FILE: fromRoot('config/dev/jwks.json'),
      WOR_SECRET: env.WOR_SECRET ?? DEV_SECRET,
    },
  };
}
