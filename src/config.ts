import { z } from 'zod';

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const required = () => z.string({ error: 'is not set' }).min(1, 'is not set');

/** Environment of the service (contract §10), validated once at boot. */
export const envSchema = z
  .object({
    PORT: z.coerce.number().int().min(0).max(65535).default(8080),
    HOST: z.string().min(1).default('0.0.0.0'),
    /** The system of record (contract §11). */
    DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'expected postgres://user@host:port/database').default('postgres://postgres@127.0.0.1:5432/wor_bridge'),
    /** Schema of the service's tables, so that several deployments or test runs can share one database. */
    DATABASE_SCHEMA: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'expected a lower-case SQL identifier').default('public'),
    DATABASE_POOL_SIZE: positiveInt(10),
    /** Key of the keyed hashes (search-index values, the audit chain): at least 32 characters, kept secret. */
    WOR_SECRET: required().min(32, 'must be at least 32 characters'),
    REDIS_URL: z.string().url().default('redis://127.0.0.1:6379'),
    /** Prefix for every Redis key the service owns, so that several deployments or test runs can share one Redis. */
    REDIS_KEY_PREFIX: z.string().regex(/^[A-Za-z0-9:_-]+$/).default('wor'),
    /** `1`: development mode (embedded defaults, bound to 127.0.0.1); see dev-defaults.ts. */
    WOR_DEV: z.enum(['', '0', '1']).optional(),
    WOR_DIRECTORY: required(),
    AUTH_JWKS_FILE: z.string().min(1).optional(),
    AUTH_JWKS_URL: z.string().url().optional(),
    AUTH_ISSUER: required(),
    AUTH_AUDIENCE: required(),
    /** The identity provider's token endpoint, advertised to clients (SMART discovery, CapabilityStatement); tokens are still checked by AUTH_ISSUER and the JWKS. */
    AUTH_TOKEN_URL: z.string().url().optional(),
    PUBLIC_BASE_URL: z.string().url().optional(),
    QUEUE_LEASE_SECONDS: positiveInt(60),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    BODY_LIMIT_BYTES: positiveInt(1024 * 1024),
    /** Portal documents may carry a referral letter (PDF): a larger limit for those routes only. */
    INBOUND_BODY_LIMIT_BYTES: positiveInt(8 * 1024 * 1024),
    /** Feedback delivery to GP FHIR endpoints: attempts before parking, first backoff, per-call timeout. */
    DELIVERY_ATTEMPTS: positiveInt(8),
    DELIVERY_BACKOFF_MS: positiveInt(1000),
    DELIVERY_TIMEOUT_MS: positiveInt(10_000),
    /** Subscription notifications (which share the three above): given up on so many in a row, a subscription goes to `error`. */
    SUBSCRIPTION_ERROR_AFTER: positiveInt(3),
    /** How often due heartbeats and ended subscriptions are looked for. */
    SUBSCRIPTION_SWEEP_MS: positiveInt(5_000),
    /** Portal documents whose referral has not arrived yet are tried again this often, backing off from this delay. */
    INBOUND_RETRY_ATTEMPTS: positiveInt(8),
    INBOUND_RETRY_BACKOFF_MS: positiveInt(1000),
    /** Requests per minute per client (token client id, or address before authentication). */
    RATE_LIMIT_PER_MINUTE: positiveInt(6000),
    /** Outcome reports: counts from 1 below this are not shown, so no patient can be singled out. */
    REPORT_MINIMUM_COUNT: positiveInt(5),
    /** How long a signed link to a team's report page stays valid. */
    REPORT_LINK_DAYS: positiveInt(7),
    /** Referrals that ended (Task completed, failed, rejected or cancelled) are erased after this many days. */
    REFERRAL_RETENTION_DAYS: positiveInt(730),
    /** How long AuditEvents are kept (NEN 7513 asks for years; default five). */
    AUDIT_RETENTION_DAYS: positiveInt(5 * 365),
    /** How often deadline timers (pick-up, contact) are checked. */
    DEADLINE_CHECK_MS: positiveInt(30_000),
  });

export type Config = Omit<z.infer<typeof envSchema>, 'PUBLIC_BASE_URL'> & { PUBLIC_BASE_URL: string };

export class ConfigError extends Error {}

/** Secrets named by the directory (by variable), read from the environment once at boot; an unset one is absent. */
export type Secrets = ReadonlyMap<string, string>;

export function readSecrets(variables: readonly string[], env: NodeJS.ProcessEnv): Secrets {
  return new Map(variables.flatMap((name) => (env[name] ? [[name, env[name]] as const] : [])));
}

function protocolOf(url: string): string | undefined {
  try {
    return new URL(url).protocol;
  } catch {
    return undefined;
  }
}

/** Parses the environment; throws a ConfigError naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(env);
  const lines = parsed.success ? [] : parsed.error.issues.map((issue) => `  ${issue.path.join('.') || '(environment)'}: ${issue.message}`);
  // Checked apart from the schema, so that they are reported together with every other bad variable.
  const development = env.WOR_DEV === '1';
  if (Boolean(env.AUTH_JWKS_FILE) === Boolean(env.AUTH_JWKS_URL)) lines.push('  AUTH_JWKS_FILE: set exactly one of AUTH_JWKS_FILE and AUTH_JWKS_URL');
  if (env.AUTH_JWKS_URL && !development && protocolOf(env.AUTH_JWKS_URL) !== 'https:') {
    lines.push('  AUTH_JWKS_URL: must be an https URL (plain http only in development mode, WOR_DEV=1)');
  }
  if (development && env.NODE_ENV === 'production') lines.push('  WOR_DEV: development mode is refused with NODE_ENV=production');
  if (development && env.PUBLIC_BASE_URL && protocolOf(env.PUBLIC_BASE_URL) === 'https:') {
    lines.push('  WOR_DEV: development mode is refused with an https PUBLIC_BASE_URL (a deployment)');
  }
  if (lines.length > 0 || !parsed.success) {
    const hint = development ? '' : '\n(to try the service on this machine with development defaults: npm run dev)';
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}${hint}`);
  }
  const config = parsed.data;
  const publicBaseUrl = (config.PUBLIC_BASE_URL ?? `http://localhost:${config.PORT}`).replace(/\/+$/, '');
  return { ...config, PUBLIC_BASE_URL: publicBaseUrl };
}
