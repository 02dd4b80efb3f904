import type Redis from 'ioredis';
import { BUDGET_GRACE_MS, monthWindow, tokenCount, validateCheck } from './limiter-math';
import { CHECK_LUA, RECONCILE_LUA, defineScript, runScript } from './limiter-script';
import type { LimitCheck, LimitDecision, LimitKind, RateLimiter } from './types';

export interface RedisLimiterOptions {
  /** Configured by the caller (offline queue off, short command timeout); this limiter never quits it. */
  redis: Redis;
  /** Namespace for every key. @default 'llmapi:rl:' */
  prefix?: string;
  /**
   * Tokens the key used since `monthStart` (the usage table), to seed a monthly budget counter that
   * Redis lost. @default none: a missing counter starts at zero
   */
  loadMonthUsage?: (keyId: string, monthStart: Date) => Promise<number>;
  /** Milliseconds since the epoch. @default Date.now */
  now?: () => number;
}

const CHECK = defineScript(CHECK_LUA);
const RECONCILE = defineScript(RECONCILE_LUA);
const REFUSED_BY: Record<number, LimitKind> = { 1: 'requests', 2: 'tokens', 3: 'budget' };
/** The counter can vanish again between seeding and re-running (eviction); give up rather than spin. */
const MAX_SEED_ATTEMPTS = 3;

/**
 * Redis key names: hash-tagged by key id so one script's keys share a cluster slot.
 * `{prefix}req:{id}`, `{prefix}tok:{id}`, `{prefix}budget:{id}:YYYY-MM`.
 */
export function limiterKeys(prefix: string, keyId: string, month: string): [string, string, string] {
  return [`${prefix}req:{${keyId}}`, `${prefix}tok:{${keyId}}`, `${prefix}budget:{${keyId}}:${month}`];
}

/**
 * rpm, tpm and the monthly budget in one Lua script per check, so concurrent requests on any number
 * of replicas are counted one by one. Request and token TATs expire once the key's bucket is full
 * again; budget counters expire a day after their month.
 */
export function createRedisLimiter(opts: RedisLimiterOptions): RateLimiter {
  const { redis, loadMonthUsage } = opts;
  const prefix = opts.prefix ?? 'llmapi:rl:';
  const now = opts.now ?? Date.now;
  // Concurrent checks that all find the counter missing share one Postgres query.
  const seeding = new Map<string, Promise<void>>();

  function seed(budgetKey: string, keyId: string, monthStart: Date, ttlMs: number): Promise<void> {
    let p = seeding.get(budgetKey);
    if (!p) {
      p = (async () => {
        const used = tokenCount(await loadMonthUsage!(keyId, monthStart));
        // NX: another replica may have seeded (and counted on top) meanwhile; its value wins.
        await redis.set(budgetKey, String(used), 'PX', ttlMs, 'NX');
      })().finally(() => seeding.delete(budgetKey));
      seeding.set(budgetKey, p);
    }
    return p;
  }

  return {
    async check(req: LimitCheck): Promise<LimitDecision> {
      validateCheck(req);
      const tokens = tokenCount(req.tokens);
      for (let attempt = 1; ; attempt++) {
        const nowMs = now();
        const month = monthWindow(nowMs);
        const keys = limiterKeys(prefix, req.keyId, month.label);
        const ttlMs = month.msLeft + BUDGET_GRACE_MS;
        const reply = (await runScript(redis, CHECK, keys, [
          Math.floor(nowMs * 1000),
          req.rpm,
          req.tpm,
          tokens,
          req.budget ?? -1,
          ttlMs,
          loadMonthUsage ? '0' : '1',
          month.msLeft,
        ])) as number[];
        if (reply[0] === -1) {
          if (attempt >= MAX_SEED_ATTEMPTS) throw new Error('budget counter vanished while seeding it');
          await seed(keys[2], req.keyId, month.start, ttlMs);
          continue;
        }
        const [allowed, refused, remReq, resetReq, remTok, resetTok, retry] = reply.map(Number);
        return {
          allowed: allowed === 1,
          ...(allowed === 1 ? {} : { refusedBy: REFUSED_BY[refused] }),
          limitRequests: req.rpm,
          remainingRequests: remReq,
          resetRequestsMs: resetReq,
          limitTokens: req.tpm,
          remainingTokens: remTok,
          resetTokensMs: resetTok,
          retryAfterMs: retry,
        };
      }
    },

    async reconcile(req): Promise<void> {
      const reserved = tokenCount(req.reserved);
      const actual = tokenCount(req.actual);
      if (reserved === actual || !(req.tpm > 0)) return;
      const nowMs = now();
      const keys = limiterKeys(prefix, req.keyId, monthWindow(nowMs).label);
      await runScript(redis, RECONCILE, [keys[1], keys[2]], [
        Math.floor(nowMs * 1000),
        req.tpm,
        reserved,
        actual,
        req.budget === null ? '0' : '1',
      ]);
    },

    async ping(): Promise<void> {
      await redis.ping();
    },

    // The client belongs to whoever configured it (it is shared with the cache).
    close: async () => undefined,
  };
}
