import { join } from 'node:path';
import Redis from 'ioredis';
import type { Logger } from 'pino';
import type { AppDeps } from './app';
import { backends, type Config } from './config';
import { ensureDevKey } from './lib/dev-key';
import { readSecret } from './lib/secrets';
import { throttled } from './lib/throttled-log';
import type { Lifecycle } from './plugins/request-context';
import { createAuthenticator } from './services/authenticator';
import { createChatService } from './services/chat';
import { createHeadroom } from './services/headroom';
import { createEmbeddingsService } from './services/embeddings';
import { createModelCatalog } from './services/models';
import { createReadiness } from './services/readiness';
import { createFailSafeCache } from './stores/cache-fail-safe';
import { createMemoryCache } from './stores/cache-memory';
import { createRedisCache } from './stores/cache-redis';
import { createPgliteDb, createPostgresDb } from './stores/db';
import { createKeyStore } from './stores/keys';
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
import { createUsageRecorder, type UsageRecorder } from './stores/usage-recorder';
import { startRetention } from './stores/usage-retention';
import { createUpstreamClient } from './upstream/client';
import { startMockUpstream } from './upstream/mock-upstream';

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

  const upstreamKey =
    config.OPENAI_API_KEY ??
    (config.OPENAI_API_KEY_SECRET_ID ? await readSecret(config.OPENAI_API_KEY_SECRET_ID, config.AWS_REGION) : undefined);
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
  const retention = startRetention({
    query: usageQuery,
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
  } else {
    logger.info('no REDIS_URL: rate limits and the response cache live in this process');
    limiter = createMemoryLimiter({ loadUsage, onBudgetThreshold, onReseedFailed });
    cache = memoryCache();
  }

  let baseUrl = config.OPENAI_BASE_URL ?? 'https://api.openai.com/v1';
  if (kinds.upstream === 'mock') {
    const mock = await startMockUpstream();
    closers.push(() => mock.close());
    baseUrl = mock.url;
    logger.warn(
      { upstream: baseUrl },
      'NO UPSTREAM CONFIGURED: answering from the built-in offline mock. Set OPENAI_API_KEY (and OPENAI_BASE_URL) for real models.',
    );
  }
  const upstream = createUpstreamClient({
    baseUrl,
    apiKey: upstreamKey,
    timeoutMs: config.UPSTREAM_TIMEOUT_MS,
    maxRetries: config.UPSTREAM_MAX_RETRIES,
    maxConnections: config.UPSTREAM_MAX_CONNECTIONS,
  });

  const limits = { rpm: config.DEFAULT_RPM, tpm: config.DEFAULT_TPM };
  // One view of each key's headroom for chat and embeddings: they spend the same limits.
  const headroom = config.RATE_LIMIT_EARLY_START ? createHeadroom() : undefined;
  const models = createModelCatalog({ upstream });
  const deps: AppDeps = {
    config: { ...config, ADMIN_API_KEY: adminKey },
    logger,
    lifecycle,
    keys,
    teams: createTeamStore({ db }),
    authenticator: createAuthenticator({
      keys,
      ttlMs: config.KEY_CACHE_TTL_MS,
      onStoreError: throttled(logger, 'key lookup failed'),
    }),
    chat: createChatService({
      upstream,
      limiter,
      cache,
      usage: usageRecorder,
      limits,
      cacheTtlSeconds: config.CACHE_TTL_SECONDS,
      headroom,
      onBackgroundError,
      pricing,
    }),
    embeddings: createEmbeddingsService({ upstream, limiter, usage: usageRecorder, limits, headroom, onBackgroundError, pricing }),
    models,
    usage: usageQuery,
    readiness: createReadiness({
      database: () => db.query('SELECT 1'),
      redis: redisPing,
      upstream: () => models.probe(),
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
      await upstream.close().catch(onBackgroundError);
      await db.close().catch(onBackgroundError);
    },
  };
}
