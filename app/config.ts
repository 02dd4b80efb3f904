import { z } from 'zod';

/** `"true"`/`"1"`/`"yes"` and their opposites, as operators write them in env files. */
const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'])
  .transform((v) => ['true', '1', 'yes', 'on'].includes(v));
const int = (min: number) => z.coerce.number().int().min(min);
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

/**
 * Every setting the service reads, validated once at boot. Names are the contract in DESIGN.md.
 * `Config` is derived from this schema; nothing else parses `process.env`.
 */
export const configSchema = z.object({
  PORT: int(0).max(65535).default(8000),
  HOST: z.string().default('0.0.0.0'),
  METRICS_PORT: int(0).max(65535).default(9464),
  WORKERS: int(1).max(64).default(1),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

  OPENAI_BASE_URL: optionalString.pipe(z.url().optional()),
  OPENAI_API_KEY: optionalString,
  OPENAI_API_KEY_SECRET_ID: optionalString,
  ADMIN_API_KEY: optionalString,
  ADMIN_API_KEY_SECRET_ID: optionalString,

  /** Postgres; when unset (and no PGHOST), the embedded PGlite database under DATA_DIR. */
  DATABASE_URL: optionalString,
  /** node-postgres reads PG* itself; PGHOST alone selects Postgres (how the ECS task is configured). */
  PGHOST: optionalString,
  /** Read by node-postgres itself; listed here so the error scrubber knows the value to remove. */
  PGPASSWORD: optionalString,
  /** Read here only for IAM auth tokens, which are signed for host, port and user (node-postgres reads them too). */
  PGPORT: int(1).max(65535).default(5432),
  PGUSER: optionalString,
  /**
   * Log in to Postgres with a fresh IAM authentication token per connection (RDS with IAM database
   * authentication; the ECS task sets it) instead of a password. Needs PGHOST and PGUSER, and TLS.
   */
  DATABASE_IAM_AUTH: bool.default(false),
  DATABASE_POOL_SIZE: int(1).default(10),
  REDIS_URL: optionalString,
  /** Kept apart from REDIS_URL so the AUTH token can be injected as a secret. */
  REDIS_PASSWORD: optionalString,
  REDIS_COMMAND_TIMEOUT_MS: int(1).default(100),
  DATA_DIR: z.string().default('.data'),

  /** The routing document: a JSON or YAML file, or the same document inline (the CDK sets this one). */
  MODELS_FILE: optionalString,
  MODELS_CONFIG: optionalString,
  /** Time to a provider's response headers: long non-streamed reasoning calls take minutes. */
  UPSTREAM_TIMEOUT_MS: int(1).default(600_000),
  /** Longest silence from a provider once its answer has started. */
  UPSTREAM_IDLE_TIMEOUT_MS: int(1).default(120_000),
  /** Provider calls per caller request beyond the first, over deployments and fallbacks. */
  UPSTREAM_MAX_RETRIES: int(0).max(10).default(2),
  UPSTREAM_MAX_CONNECTIONS: int(1).default(1024),
  /** Consecutive failures after which a deployment cools down (its circuit opens). */
  CIRCUIT_FAILURE_THRESHOLD: int(1).default(5),
  /** How long a deployment cools down when its provider said nothing about how long. */
  CIRCUIT_COOLDOWN_MS: int(0).default(30_000),
  /** The longest cool-down a provider's retry-after can impose on a deployment. */
  CIRCUIT_MAX_COOLDOWN_MS: int(0).default(300_000),
  /** Image inputs travel as data URLs inside the JSON body: a few megabytes is ordinary. */
  BODY_LIMIT_BYTES: int(1024).default(33_554_432),
  /** Allowed browser origins, comma-separated; unset: no CORS headers at all. */
  CORS_ORIGINS: optionalString,

  CACHE_TTL_SECONDS: int(1).default(3600),
  CACHE_MAX_ENTRY_BYTES: int(1024).default(262_144),
  DEFAULT_RPM: int(1).default(60),
  DEFAULT_TPM: int(1).default(100_000),
  RATE_LIMIT_FAIL_OPEN: bool.default(true),
  /** How long a key lookup is trusted in process; revocations take effect within this. */
  KEY_CACHE_TTL_MS: int(0).max(5000).default(2000),
  USAGE_RETENTION_DAYS: int(1).default(90),
  /** Daily usage rollups (reports, budget re-seeding) outlive the raw rows; a month's budget re-seeds from them. */
  USAGE_ROLLUP_RETENTION_DAYS: int(32).default(800),
  /** Per-model prices (JSON or YAML) overriding the shipped table in app/pricing/prices.json. */
  PRICES_FILE: optionalString,
  /**
   * Usage rows held while Postgres is unreachable; past it the oldest are dropped and counted. Rows
   * being written count too, so the floor is two 500-row INSERT batches.
   */
  USAGE_BUFFER_MAX_ROWS: int(1000).default(50_000),
  /**
   * Connection bounds. From connecting to complete request headers (also how long a socket that
   * never sends a byte is kept); to a complete request, body included; an idle keep-alive
   * connection (longer than the ALB's 300 s idle timeout, so the ALB always closes first).
   */
  HEADERS_TIMEOUT_MS: int(1000).max(60_000).default(15_000),
  REQUEST_TIMEOUT_MS: int(1000).max(600_000).default(60_000),
  KEEP_ALIVE_TIMEOUT_MS: int(1000).default(310_000),
  /**
   * Open connections per process; past it requests get 503 and their connection is closed, and
   * past 110 % new sockets are refused at accept. /ready fails above 90 %.
   */
  MAX_CONNECTIONS: int(1).default(10_000),
  /**
   * Proxies in front of the service whose X-Forwarded-For entries are trusted (the ALB: 1). The
   * caller's address is then the entry that many places from the right; 0 uses the socket's peer.
   */
  TRUST_PROXY_HOPS: int(0).max(10).default(0),
  /** Failed authentications per source address within AUTH_FAILURE_WINDOW_MS before 429s. */
  AUTH_FAILURE_LIMIT: int(1).default(20),
  AUTH_FAILURE_WINDOW_MS: int(1000).default(60_000),
  /** Addresses the failure counter remembers at once (its memory bound). */
  AUTH_THROTTLE_MAX_ADDRESSES: int(100).default(10_000),
  BATCH_MAX_CONCURRENCY: int(1).default(5),
  BATCH_MAX_ITEMS: int(1).default(100),
  SHUTDOWN_GRACE_MS: int(0).default(25_000),

  /** CloudWatch Embedded Metric Format lines on stdout (on in the container). */
  EMF_ENABLED: bool.default(false),
  EMF_INTERVAL_SECONDS: int(1).default(60),
  METRICS_NAMESPACE: z.string().default('LlmApi/local'),
  SERVICE_NAME: z.string().default('llm-api'),
  AWS_REGION: optionalString,
});

export type Config = z.infer<typeof configSchema>;

export class ConfigError extends Error {}

/** Parses the environment; throws a ConfigError naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // `PORT=` in an env file means unset (the default), not 0.
  const set = Object.fromEntries(Object.entries(env).filter(([, v]) => v?.trim() !== ''));
  const result = configSchema.safeParse(set);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  }
  return result.data;
}

/** Which backends the configuration selects; embedded ones need no services at all. */
export function backends(config: Config) {
  return {
    database: config.DATABASE_URL || config.PGHOST ? ('postgres' as const) : ('pglite' as const),
    redis: config.REDIS_URL ? ('redis' as const) : ('memory' as const),
    upstream:
      config.OPENAI_BASE_URL || config.OPENAI_API_KEY || config.OPENAI_API_KEY_SECRET_ID
        ? ('http' as const)
        : ('mock' as const),
  };
}
