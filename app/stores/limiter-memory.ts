import { BUDGET_GRACE_MS, evaluate, monthWindow, reconcileTat, tokenCount, validateCheck } from './limiter-math';
import type { LimitCheck, LimitDecision, RateLimiter } from './types';

export interface MemoryLimiterOptions {
  /** Seeds a monthly budget counter this process has not seen yet (after a restart). @default zero */
  loadMonthUsage?: (keyId: string, monthStart: Date) => Promise<number>;
  /** Milliseconds since the epoch. @default Date.now */
  now?: () => number;
  /** Checks between sweeps of idle entries. @default 1024 */
  sweepEvery?: number;
}

interface BudgetCounter {
  used: number;
  expiresAtMs: number;
}

/**
 * The Redis limiter's semantics in one process: the embedded mode's limiter and the fail-open
 * fallback. Limits hold per process only (each worker of a cluster counts on its own).
 * The decision itself is synchronous, so concurrent checks cannot interleave inside one.
 */
export function createMemoryLimiter(opts: MemoryLimiterOptions = {}): RateLimiter {
  const now = opts.now ?? Date.now;
  const sweepEvery = opts.sweepEvery ?? 1024;
  const requestTats = new Map<string, number>();
  const tokenTats = new Map<string, number>();
  const budgets = new Map<string, BudgetCounter>();
  const seeding = new Map<string, Promise<void>>();
  let sinceSweep = 0;

  // Entries whose bucket is full again carry no information, like the Redis keys whose TTL ran out.
  function sweep(nowMs: number): void {
    const nowUs = nowMs * 1000;
    for (const tats of [requestTats, tokenTats]) {
      for (const [k, tat] of tats) if (tat <= nowUs) tats.delete(k);
    }
    for (const [k, b] of budgets) if (b.expiresAtMs <= nowMs) budgets.delete(k);
  }

  function budgetCounter(keyId: string, nowMs: number): { key: string; counter?: BudgetCounter } {
    const key = `${keyId}:${monthWindow(nowMs).label}`;
    const counter = budgets.get(key);
    if (counter && counter.expiresAtMs <= nowMs) {
      budgets.delete(key);
      return { key };
    }
    return { key, counter };
  }

  async function seed(key: string, keyId: string, nowMs: number): Promise<void> {
    let p = seeding.get(key);
    if (!p) {
      const month = monthWindow(nowMs);
      p = (async () => {
        const used = opts.loadMonthUsage ? tokenCount(await opts.loadMonthUsage(keyId, month.start)) : 0;
        if (!budgets.has(key)) budgets.set(key, { used, expiresAtMs: nowMs + month.msLeft + BUDGET_GRACE_MS });
      })().finally(() => seeding.delete(key));
      seeding.set(key, p);
    }
    return p;
  }

  return {
    async check(req: LimitCheck): Promise<LimitDecision> {
      validateCheck(req);
      if (req.budget !== null) {
        const found = budgetCounter(req.keyId, now());
        if (!found.counter) await seed(found.key, req.keyId, now());
      }
      // From here on nothing awaits: read, decide and write happen as one step.
      const nowMs = now();
      if (++sinceSweep >= sweepEvery) {
        sinceSweep = 0;
        sweep(nowMs);
      }
      const month = monthWindow(nowMs);
      let counter: BudgetCounter | undefined;
      if (req.budget !== null) {
        const found = budgetCounter(req.keyId, nowMs);
        // The month may have turned while seeding; a new month starts from zero here.
        counter = found.counter ?? { used: 0, expiresAtMs: nowMs + month.msLeft + BUDGET_GRACE_MS };
        budgets.set(found.key, counter);
      }
      const tokens = tokenCount(req.tokens);
      const out = evaluate({
        nowUs: Math.floor(nowMs * 1000),
        requestTat: requestTats.get(req.keyId) ?? 0,
        tokenTat: tokenTats.get(req.keyId) ?? 0,
        used: counter?.used ?? 0,
        rpm: req.rpm,
        tpm: req.tpm,
        tokens,
        budget: req.budget,
        msToMonthEnd: month.msLeft,
      });
      if (out.decision.allowed) {
        requestTats.set(req.keyId, out.requestTat);
        tokenTats.set(req.keyId, out.tokenTat);
        if (counter) counter.used += tokens;
      }
      return out.decision;
    },

    async reconcile(req): Promise<void> {
      const reserved = tokenCount(req.reserved);
      const actual = tokenCount(req.actual);
      if (reserved === actual || !(req.tpm > 0)) return;
      const nowMs = now();
      const nowUs = Math.floor(nowMs * 1000);
      const tat = reconcileTat(tokenTats.get(req.keyId) ?? 0, nowUs, req.tpm, reserved, actual);
      if (tat > nowUs) tokenTats.set(req.keyId, tat);
      else tokenTats.delete(req.keyId);
      if (req.budget !== null) {
        const { counter } = budgetCounter(req.keyId, nowMs);
        if (counter) counter.used = Math.max(0, counter.used + actual - reserved);
      }
    },

    ping: async () => undefined,

    close: async () => {
      requestTats.clear();
      tokenTats.clear();
      budgets.clear();
    },
  };
}
