import { join } from 'node:path';
import Redis from 'ioredis';
import type { Logger } from 'pino';
import type { AppDeps } from './app';
import { backends, type Config } from './config';
import { ensureDevKey } from './lib/dev-key';
import { readSecret } from './lib/secrets';
import { throttled } from './lib/throttled-log';
import type { Lifecycle } from './plugins/request-context';
import { createScrubber } from './security/scrub';
import { createAuthThrottle } from './security/auth-throttle';
import { createConnectionLimit } from './security/connections';
import { createAuthenticator } from './services/authenticator';
import { createPipeline } from './pipeline/pipeline';
import { createProviders } from './providers/registry';
import { defaultRoutingDocument, loadRoutingDocument } from './routing/document';
import { buildRoutes, createRouter } from './routing/router';
import { createModelCatalog } from './services/models';
import { createProviderProbe } from './services/provider-probe';
import { createReadiness } from './services/readiness';
import { createFailSafeCache } from './stores/cache-fail-safe';
import { createMemoryCache } from './stores/cache-memory';
import { createRedisCache } from './stores/cache-redis';
import { createPgliteDb, createPostgresDb, databasePassword } from './stores/db';
import { createKeyStore } from './stores/keys';
import { createMemoryRevocations, createRedisRevocations, withRevocationBroadcast, type Revocations } from './stores/revocations';
import { logBudgetThreshold } from './stores/limiter-events';
import type { LoadUsage } from './stores/limiter-memory';
import { createTeamStore } from './stores/teams';
import { loadPriceOverrides } from './pricing/load-overrides';
import { createPricing } from './pricing/pricing';
import { createFailOpenLimiter } from './stores/limiter-fail-open';
import { createMemoryLimiter } from './stores/limiter-memory';
import { createRedisLimiter } from './stores/limiter-redis';
import { migrate } from './stores/migrate';
import type { BudgetThresholdEvent, Db, RateLimiter, ResponseCache } from './stores/types';
import { createUsageQuery } from './stores/usage-query';
import { createObjectOwners } from './stores/object-owners';
import { createUsageRecorder, type UsageRecorder } from './stores/usage-recorder';
import { startRetention } from './stores/usage-retention';

/** Callbacks the stores report degraded service through (counted by the metrics, logged here). */
export interface StoreEvents {
  redisFallback?(component: 'limiter' | 'cache'): void;
  usageDropped?(count: number): void;
  /** A usage priced as null for want of a price: usage_unpriced_total{model}. */
  unpriced?(model: string): void;
  /** A dollar budget crossed 80 % / 100 % (already logged as event "budget_threshold"): budget_threshold_crossings_total. */
  budgetThreshold?(e: BudgetThresholdEvent): void;
  /** A budget counter Redis lost could not be re-seeded from Postgres (the request got a 503). */
  reseedFailed?(err: unknown): void;
}

export interface Services {
  deps: AppDeps;
  db: Db;
  usageRecorder: UsageRecorder;
  /** Stops timers, flushes usage, closes every connection. */
  close(): Promise<void>;
}

export async function openDatabase(config: Config, logger: Logger): Promise<Db> {
  if (backends(config).database === 'postgres') {
    return createPostgresDb({
      connectionString: config.DATABASE_URL,
      max: config.DATABASE_POOL_SIZE,
      onError: throttled(logger, 'postgres connection error'),
      password: databasePassword(config),
    });
  }
  logger.info({ dataDir: config.DATA_DIR }, 'no DATABASE_URL: using the embedded PGlite database');
  return createPgliteDb(join(config.DATA_DIR, 'pglite'));
}

export function createRedisClient(config: Config, logger: Logger): Redis {
  const redis = new Redis(config.REDIS_URL!, {
    password: config.REDIS_PASSWORD,
    // Fail fast instead of queueing: a request must never wait on a Redis that is not there.
    enableOfflineQueue: false,
    // Commands issued while a round trip is in flight go out together as one pipeline: under
    // concurrency one write and one read carry many requests' limiter checks (and Redis parses
    // them in one go). A lone request still goes out at once.
    enableAutoPipelining: true,
    maxRetriesPerRequest: 0,
    commandTimeout: config.REDIS_COMMAND_TIMEOUT_MS,
    connectTimeout: 2000,
    retryStrategy: (attempt) => Math.min(100 * 2 ** attempt, 2000),
    lazyConnect: false,
  });
  redis.on('error', throttled(logger, 'redis connection error'));
  return redis;
}

/** The password a connection URL carries (`postgres://user:pw@host`), if any. */
function urlPassword(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    return decodeURIComponent(new URL(url).password) || undefined;
  } catch {
    return undefined;
  }
}

/** Every credential this process was configured with: what no error body may carry. */
export function configuredSecrets(config: Config, resolved: { providerKeys?: string[]; adminKey?: string }): string[] {
  const all = [
    ...(resolved.providerKeys ?? []),
    resolved.adminKey,
    config.REDIS_PASSWORD,
    urlPassword(config.REDIS_URL),
    urlPassword(config.DATABASE_URL),
    config.PGPASSWORD,
  ];
  return [...new Set(all.filter((s): s is string => typeof s === 'string' && s !== ''))];
}

/** Builds every dependency the app needs from the configuration, embedded defaults included. */
export async function createServices(
  config: Config,
  logger: Logger,
  lifecycle: Lifecycle,
  events: StoreEvents = {},
): Promise<Services> {
  const kinds = backends(config);
  const closers: Array<() => Promise<unknown>> = [];
  const onBackgroundError = throttled(logger, 'background task failed');

  const adminKey =
    config.ADMIN_API_KEY ??
    (config.ADMIN_API_KEY_SECRET_ID ? await readSecret(config.ADMIN_API_KEY_SECRET_ID, config.AWS_REGION) : undefined);

  const db = await openDatabase(config, logger);
  await migrate(db);
  const keys = createKeyStore({ db });
  if (kinds.database === 'pglite') await ensureDevKey(keys, config.DATA_DIR, logger);

  const usageQuery = createUsageQuery({ db });
  const usageRecorder = createUsageRecorder({
    db,
    onError: throttled(logger, 'usage write failed; rows kept for retry'),
    onDropped: (n) => events.usageDropped?.(n),
    log: logger,
    maxBuffered: config.USAGE_BUFFER_MAX_ROWS,
  });
  const owners = createObjectOwners({ db, onError: throttled(logger, 'object owner write failed') });
  const retention = startRetention({
    // Response ids are kept as long as the usage rows of the calls that made them.
    query: {
      deleteOlderThan: async (days) => (await usageQuery.deleteOlderThan(days)) + (await owners.deleteOlderThan(days)),
      deleteRollupsOlderThan: (days) => usageQuery.deleteRollupsOlderThan(days),
    },
    days: config.USAGE_RETENTION_DAYS,
    rollupDays: config.USAGE_ROLLUP_RETENTION_DAYS,
    onError: onBackgroundError,
  });
  // Budget counters Redis lost (or this process never had) start from what the usage tables hold.
  const loadUsage: LoadUsage = (c) =>
    c.unit === 'tokens' ? usageQuery.monthTokens(c.id, c.start) : usageQuery.spendSince(c.scope, c.id, c.start);
  const logThreshold = logBudgetThreshold(logger);
  const onBudgetThreshold = (e: BudgetThresholdEvent) => {
    logThreshold(e);
    events.budgetThreshold?.(e);
  };
  const reseedFailed = throttled(logger, 'budget counter could not be re-seeded from Postgres');
  const onReseedFailed = (err: unknown) => {
    reseedFailed(err);
    events.reseedFailed?.(err);
  };
  const pricing = createPricing({
    overrides: config.PRICES_FILE ? loadPriceOverrides(config.PRICES_FILE) : undefined,
    log: logger,
    onUnpriced: (model) => events.unpriced?.(model),
  });

  let limiter: RateLimiter;
  let cache: ResponseCache;
  let redisPing: (() => Promise<unknown>) | undefined;
  let revocations: Revocations;
  const memoryCache = () => createMemoryCache({ maxEntryBytes: config.CACHE_MAX_ENTRY_BYTES });
  if (kinds.redis === 'redis') {
    const redis = createRedisClient(config, logger);
    closers.push(() => redis.quit().catch(() => redis.disconnect()));
    const limiterDown = throttled(logger, 'redis unavailable: rate limits served in process');
    limiter = createFailOpenLimiter({
      primary: createRedisLimiter({ redis, loadUsage, onBudgetThreshold, onReseedFailed }),
      fallback: createMemoryLimiter({ loadUsage, onBudgetThreshold, onReseedFailed }),
      failOpen: config.RATE_LIMIT_FAIL_OPEN,
      // A check is up to two script calls (the second after re-seeding a budget counter): the hard
      // deadline must not undercut the command timeout the operator chose.
      timeoutMs: Math.max(200, 2 * config.REDIS_COMMAND_TIMEOUT_MS),
      onFallback: (err) => {
        events.redisFallback?.('limiter');
        limiterDown(err);
      },
    });
    const cacheDown = throttled(logger, 'redis unavailable: response cache bypassed');
    cache = createFailSafeCache({
      cache: createRedisCache({ redis, maxEntryBytes: config.CACHE_MAX_ENTRY_BYTES }),
      onError: (err) => {
        events.redisFallback?.('cache');
        cacheDown(err);
      },
    });
    redisPing = () => redis.ping();
    revocations = createRedisRevocations({
      redis,
      // SUBSCRIBE needs a connection of its own, which waits for Redis rather than failing fast
      // and resubscribes after every reconnect.
      subscriber: redis.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null, commandTimeout: undefined }),
      onError: throttled(logger, 'revocation broadcast failed; other replicas fall back to their key cache TTL'),
    });
  } else {
    revocations = createMemoryRevocations();
    logger.info('no REDIS_URL: rate limits and the response cache live in this process');
    limiter = createMemoryLimiter({ loadUsage, onBudgetThreshold, onReseedFailed });
    cache = memoryCache();
  }

  // The routing document, or the single upstream of OPENAI_BASE_URL / the offline mock.
  const doc =
    loadRoutingDocument({ file: config.MODELS_FILE, inline: config.MODELS_CONFIG }) ??
    defaultRoutingDocument(
      kinds.upstream === 'mock'
        ? 'mock'
        : { baseUrl: config.OPENAI_BASE_URL, apiKeyEnv: config.OPENAI_API_KEY !== undefined, apiKeySecretId: config.OPENAI_API_KEY_SECRET_ID },
    );
  const providers = await createProviders(doc, {
    config,
    env: process.env,
    readSecret: (id) => readSecret(id, config.AWS_REGION),
  });
  for (const p of providers.byName.values()) closers.push(() => p.close());
  if ([...providers.byName.values()].some((p) => p.type === 'mock')) {
    logger.warn(
      'NO UPSTREAM CONFIGURED: answering from the built-in offline mock. Set OPENAI_API_KEY (and OPENAI_BASE_URL) or MODELS_FILE for real models.',
    );
  }
  const limits = { rpm: config.DEFAULT_RPM, tpm: config.DEFAULT_TPM };
  const router = createRouter({
    routes: buildRoutes(doc, providers.byName, {
      failureThreshold: config.CIRCUIT_FAILURE_THRESHOLD,
      coolDownMs: config.CIRCUIT_COOLDOWN_MS,
      maxCoolDownMs: config.CIRCUIT_MAX_COOLDOWN_MS,
    }),
    maxAttempts: config.UPSTREAM_MAX_RETRIES + 1,
    maxInflightPerProvider: 2 * config.UPSTREAM_MAX_CONNECTIONS,
    // A deployment's rpm/tpm (the provider account's limits) are counted like a key's, under its own id.
    limitDeployment: (d, tokens) =>
      limiter.check({ keyId: `deployment:${d.id}`, rpm: d.rpm ?? 1_000_000_000, tpm: d.tpm ?? 1_000_000_000, budget: null, tokens }),
  });
  const models = createModelCatalog({ router });
  const secrets = configuredSecrets(config, { providerKeys: providers.secrets, adminKey });
  const scrubber = createScrubber({ secrets });
  const connections = createConnectionLimit({ max: config.MAX_CONNECTIONS });
  const authenticator = createAuthenticator({
    keys,
    ttlMs: config.KEY_CACHE_TTL_MS,
    // Half the pool at most: a flood of unknown keys leaves connections for usage and admin queries.
    maxConcurrentLookups: Math.max(1, Math.floor(config.DATABASE_POOL_SIZE / 2)),
    onStoreError: throttled(logger, 'key lookup failed'),
  });
  // A revoked key stops on every replica at once, from its cache too (even while Postgres is down).
  revocations.subscribe((keyId) => authenticator.revoked(keyId));
  closers.push(() => revocations.close());
  const deps: AppDeps = {
    config: { ...config, ADMIN_API_KEY: adminKey },
    secrets,
    authThrottle: createAuthThrottle({
      maxFailures: config.AUTH_FAILURE_LIMIT,
      windowMs: config.AUTH_FAILURE_WINDOW_MS,
      maxAddresses: config.AUTH_THROTTLE_MAX_ADDRESSES,
    }),
    connections,
    logger,
    lifecycle,
    // Revoking through the admin API broadcasts the revocation.
    keys: withRevocationBroadcast(keys, revocations),
    teams: createTeamStore({ db }),
    authenticator,
    pipeline: createPipeline({
      router,
      limiter,
      limits,
      cache,
      cacheTtlSeconds: config.CACHE_TTL_SECONDS,
      usage: usageRecorder,
      owners,
      defaultCompletionReserve: 1024,
      scrubber,
      onBackgroundError,
      pricing,
    }),
    router,
    owners,
    models,
    usage: usageQuery,
    readiness: createReadiness({
      database: () => db.query('SELECT 1'),
      redis: redisPing,
      upstream: createProviderProbe(router.providers()),
      connections,
    }),
  };

  return {
    deps,
    db,
    usageRecorder,
    async close() {
      await retention.stop();
      await usageRecorder.close();
      await limiter.close().catch(onBackgroundError);
      await cache.close().catch(onBackgroundError);
      for (const close of closers.reverse()) await close().catch(onBackgroundError);
      await db.close().catch(onBackgroundError);
    },
  };
}
