import { BudgetSourceError } from './errors';
import type Redis from 'ioredis';
import { BUDGET_GRACE_MS, increment, monthWindow, tokenCount, validateCheck, type MonthWindow } from './limiter-math';
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
  /**
   * Longest a reconcile waits for the key's next check to carry it to Redis before it is sent on
   * its own. @default 100
   */
  reconcileFlushMs?: number;
  /** A reconcile that could not be written (best effort: it is dropped). Must not throw. */
  onReconcileError?: (err: unknown) => void;
}

/** Reconciles of one key not yet written to Redis, summed. */
interface PendingAdjustment {
  /** The budget counter's month when they happened: a check in another month does not carry them. */
  month: string;
  /** Token TAT change, µs: the sum of increment(actual) - increment(reserved). */
  tatUs: number;
  /** Budget counter change, tokens: the sum of actual - reserved (for keys with a budget). */
  budget: number;
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
 *
 * One Redis round trip per request: a reconcile is not sent on its own but summed per key and
 * carried by that key's next check (the script applies it first, with the same arithmetic), or
 * written by a timer within `reconcileFlushMs` when no check comes. Applying a TAT correction later
 * gives the same TAT, because the check clamps to its own (later) now either way; other replicas see
 * a give-back up to `reconcileFlushMs` late, which only ever makes them stricter.
 */
export function createRedisLimiter(opts: RedisLimiterOptions): RateLimiter {
  const { redis, loadMonthUsage } = opts;
  const prefix = opts.prefix ?? 'llmapi:rl:';
  const now = opts.now ?? Date.now;
  const flushMs = opts.reconcileFlushMs ?? 100;
  // Concurrent checks that all find the counter missing share one Postgres query.
  const seeding = new Map<string, Promise<void>>();
  const pending = new Map<string, PendingAdjustment>();
  let flushTimer: NodeJS.Timeout | undefined;
  let month: MonthWindow | undefined;
  let monthEndMs = 0;

  /** The month window changes once a month: recomputed only when `nowMs` leaves it. */
  function monthOf(nowMs: number): { label: string; start: Date; msLeft: number } {
    if (!month || nowMs >= monthEndMs || nowMs < month.start.getTime()) {
      month = monthWindow(nowMs);
      monthEndMs = nowMs + month.msLeft;
    }
    return { label: month.label, start: month.start, msLeft: monthEndMs - nowMs };
  }

  function reportReconcileError(err: unknown): void {
    try {
      opts.onReconcileError?.(err);
    } catch {
      // Best effort, like the reconcile itself.
    }
  }

  /** Writes every pending adjustment on its own (no check carried it in time). */
  async function flushPending(): Promise<void> {
    if (flushTimer) clearTimeout(flushTimer);
    flushTimer = undefined;
    const entries = [...pending.entries()];
    pending.clear();
    const nowMs = now();
    await Promise.all(
      entries.map(([keyId, adj]) => {
        const keys = limiterKeys(prefix, keyId, adj.month);
        return runScript(redis, RECONCILE, [keys[1], keys[2]], [Math.floor(nowMs * 1000), adj.tatUs, adj.budget]).catch(
          reportReconcileError,
        );
      }),
    );
  }

  function seed(budgetKey: string, keyId: string, monthStart: Date, ttlMs: number): Promise<void> {
    let p = seeding.get(budgetKey);
    if (!p) {
      p = (async () => {
        let loaded: number;
        try {
          loaded = await loadMonthUsage!(keyId, monthStart);
        } catch (err) {
          throw new BudgetSourceError({ cause: err });
        }
        const used = tokenCount(loaded);
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
        const month = monthOf(nowMs);
        const keys = limiterKeys(prefix, req.keyId, month.label);
        const ttlMs = month.msLeft + BUDGET_GRACE_MS;
        // Earlier reconciles of this key ride along (once: a retry after seeding must not repeat them).
        let adj = pending.get(req.keyId);
        if (adj && adj.month === month.label) pending.delete(req.keyId);
        else adj = undefined;
        const reply = (await runScript(redis, CHECK, keys, [
          Math.floor(nowMs * 1000),
          req.rpm,
          req.tpm,
          tokens,
          req.budget ?? -1,
          ttlMs,
          loadMonthUsage ? '0' : '1',
          month.msLeft,
          adj?.tatUs ?? 0,
          adj?.budget ?? 0,
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
      const label = monthOf(now()).label;
      const tatUs = increment(actual, req.tpm) - increment(reserved, req.tpm);
      const budget = req.budget === null ? 0 : actual - reserved;
      const adj = pending.get(req.keyId);
      if (adj && adj.month === label) {
        adj.tatUs += tatUs;
        adj.budget += budget;
      } else {
        // A month boundary: the older month's adjustment goes out first, on its own.
        if (adj) void flushPending();
        pending.set(req.keyId, { month: label, tatUs, budget });
      }
      if (!flushTimer) {
        flushTimer = setTimeout(() => void flushPending(), flushMs);
        flushTimer.unref();
      }
    },

    async ping(): Promise<void> {
      await redis.ping();
    },

    // The client belongs to whoever configured it (it is shared with the cache): only the
    // reconciles still waiting are written.
    close: () => flushPending(),
  };
}
