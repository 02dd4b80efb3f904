import { BudgetSourceError } from './errors';
import { crossedThresholds, evaluatePlan, validateCheck } from './limiter-math';
import { adjustmentsOf, decisionOf, planCheck, thresholdEvent, type CounterSlot } from './limiter-plan';
import type { BudgetThresholdEvent, LimitCheck, LimitDecision, LimitReconcile, RateLimiter } from './types';

/** Where a budget counter that this process has not seen yet is seeded from (the usage tables). */
export interface CounterSource {
  scope: CounterSlot['scope'];
  id: string;
  unit: CounterSlot['unit'];
  period: CounterSlot['period'];
  start: Date;
}
/** Tokens, or USD, used in the counter's period so far. */
export type LoadUsage = (c: CounterSource) => Promise<number>;

export interface MemoryLimiterOptions {
  /** Seeds a budget counter this process has not seen yet (after a restart). @default zero */
  loadUsage?: LoadUsage;
  /** A dollar budget's settled spend crossed 80 % or 100 %. Must not throw. */
  onBudgetThreshold?: (e: BudgetThresholdEvent) => void;
  /** Seeding failed (the database unreachable): the check then fails with BudgetSourceError. Must not throw. */
  onReseedFailed?: (err: unknown) => void;
  /** Milliseconds since the epoch. @default Date.now */
  now?: () => number;
  /** Checks between sweeps of idle entries. @default 1024 */
  sweepEvery?: number;
}

interface Counter {
  used: number;
  spent: number;
  expiresAtMs: number;
}

/** The seed of a counter in its unit (micro-dollars for USD). */
async function seedUnits(load: LoadUsage | undefined, slot: CounterSlot): Promise<number> {
  if (!load) return 0;
  const v = await load({ scope: slot.scope, id: slot.id, unit: slot.unit, period: slot.period, start: slot.window.start });
  const n = Number.isFinite(v) && v > 0 ? v : 0;
  return slot.unit === 'usd' ? Math.round(n * 1_000_000) : Math.ceil(n);
}

/**
 * Seeds budget counters from the usage tables, for either limiter: concurrent checks that find the
 * same counter missing share one query; a failure is reported and becomes BudgetSourceError.
 */
export function budgetSeeder(load: LoadUsage | undefined, onReseedFailed?: (err: unknown) => void): (slot: CounterSlot) => Promise<number> {
  const seeding = new Map<string, Promise<number>>();
  return (slot) => {
    let p = seeding.get(slot.name);
    if (!p) {
      p = seedUnits(load, slot)
        .catch((err: unknown) => {
          try {
            onReseedFailed?.(err);
          } catch {
            // The check fails with BudgetSourceError either way.
          }
          throw new BudgetSourceError({ cause: err });
        })
        .finally(() => seeding.delete(slot.name));
      seeding.set(slot.name, p);
    }
    return p;
  };
}

export function reportThreshold(cb: ((e: BudgetThresholdEvent) => void) | undefined, e: BudgetThresholdEvent): void {
  try {
    cb?.(e);
  } catch {
    // A logging or metrics failure must not fail the request or the settle.
  }
}

/**
 * The Redis limiter's semantics in one process: the embedded mode's limiter and the fail-open
 * fallback. Limits hold per process only (each worker of a cluster counts on its own). The decision
 * itself is synchronous, so concurrent checks cannot interleave inside one.
 */
export function createMemoryLimiter(opts: MemoryLimiterOptions = {}): RateLimiter {
  const now = opts.now ?? Date.now;
  const sweepEvery = opts.sweepEvery ?? 1024;
  const tats = new Map<string, number>();
  const counters = new Map<string, Counter>();
  let sinceSweep = 0;

  // Entries whose bucket is full again carry no information, like the Redis keys whose TTL ran out.
  function sweep(nowMs: number): void {
    const nowUs = nowMs * 1000;
    for (const [k, tat] of tats) if (tat <= nowUs) tats.delete(k);
    for (const [k, c] of counters) if (c.expiresAtMs <= nowMs) counters.delete(k);
  }

  function live(name: string, nowMs: number): Counter | undefined {
    const c = counters.get(name);
    if (c && c.expiresAtMs <= nowMs) {
      counters.delete(name);
      return undefined;
    }
    return c;
  }

  const seed = budgetSeeder(opts.loadUsage, opts.onReseedFailed);

  return {
    async check(req: LimitCheck): Promise<LimitDecision> {
      validateCheck(req);
      const seeds = new Map<string, number>();
      const missing = planCheck('', req, now()).counters.filter((c) => !live(c.name, now()));
      await Promise.all(missing.map(async (c) => seeds.set(c.name, await seed(c))));
      // From here on nothing awaits: read, decide and write happen as one step.
      const nowMs = now();
      if (++sinceSweep >= sweepEvery) {
        sinceSweep = 0;
        sweep(nowMs);
      }
      const plan = planCheck('', req, nowMs);
      const state = plan.counters.map((c) => {
        let counter = live(c.name, nowMs);
        if (!counter) {
          // Seeded above; a period that turned meanwhile starts from zero.
          const used = seeds.get(c.name) ?? 0;
          counter = { used, spent: used, expiresAtMs: nowMs + c.ttlMs };
          counters.set(c.name, counter);
        }
        return counter;
      });
      const nowUs = Math.floor(nowMs * 1000);
      const out = evaluatePlan(
        nowUs,
        plan.rates.map((r) => ({ kind: r.kind === 'requests' ? 1 : 2, limit: r.limit, cost: r.cost, tat: tats.get(r.name) ?? 0 })),
        plan.counters.map((c, j) => ({ budget: c.budget, cost: c.cost, resetMs: c.window.msLeft, used: state[j].used })),
      );
      if (out.allowed) {
        plan.rates.forEach((r, i) => tats.set(r.name, out.newTats[i]));
        plan.counters.forEach((c, j) => (state[j].used += c.cost));
      }
      return decisionOf(plan, out);
    },

    async reconcile(r: LimitReconcile): Promise<void> {
      const nowMs = now();
      const nowUs = Math.floor(nowMs * 1000);
      const plan = planCheck('', r.check, nowMs, r.periods);
      const adj = adjustmentsOf(plan, r);
      for (const [name, us] of adj.tats) {
        const tat = Math.max(Math.max(tats.get(name) ?? 0, nowUs) + us, nowUs);
        if (tat > nowUs) tats.set(name, tat);
        else tats.delete(name);
      }
      for (const [name, a] of adj.counters) {
        // A counter this process no longer has is left missing: the next check seeds it.
        const c = live(name, nowMs);
        if (!c) continue;
        c.used = Math.max(0, c.used + a.used);
        const before = c.spent;
        c.spent += a.spent;
        if (!a.slot.thresholds) continue;
        for (const pct of crossedThresholds(a.slot.budget, before, c.spent)) {
          reportThreshold(opts.onBudgetThreshold, thresholdEvent(a.slot, pct, c.spent));
        }
      }
    },

    ping: async () => undefined,

    close: async () => {
      tats.clear();
      counters.clear();
    },
  };
}
