import type Redis from 'ioredis';
import { validateCheck, type PlanOutcome } from './limiter-math';
import { budgetSeeder, reportThreshold, type LoadUsage } from './limiter-memory';
import { adjustmentsOf, decisionOf, planCheck, thresholdEvent, type CounterSlot, type LimitPlan } from './limiter-plan';
import { LIMITS_LUA, defineScript, runScript } from './limiter-script';
import type { BudgetThresholdEvent, LimitCheck, LimitDecision, LimitReconcile, RateLimiter } from './types';

export interface RedisLimiterOptions {
  /** Configured by the caller (offline queue off, short command timeout); this limiter never quits it. */
  redis: Redis;
  /** Namespace for every key. @default 'llmapi:rl:' */
  prefix?: string;
  /**
   * Usage in a budget counter's period so far (the usage tables), to seed a counter that Redis lost.
   * @default none: a missing counter starts at zero
   */
  loadUsage?: LoadUsage;
  /** Seeding failed (Postgres unreachable): the check then fails with BudgetSourceError. Must not throw. */
  onReseedFailed?: (err: unknown) => void;
  /** A dollar budget's settled spend crossed 80 % or 100 %: once per crossing across replicas. Must not throw. */
  onBudgetThreshold?: (e: BudgetThresholdEvent) => void;
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

/** Corrections not yet written to Redis, summed per TAT / counter name. */
interface Pending {
  tats: Map<string, number>;
  counters: Map<string, { slot: CounterSlot; used: number; spent: number }>;
}

const SCRIPT = defineScript(LIMITS_LUA);
/** The counter can vanish again between seeding and re-running (eviction); give up rather than spin. */
const MAX_SEED_ATTEMPTS = 3;

/** Parses a script reply's events, reporting each against the counter it names. */
function emitEvents(reply: number[], counters: Array<CounterSlot | undefined>, cb: RedisLimiterOptions['onBudgetThreshold']): number {
  const n = Number(reply[4]);
  for (let e = 0; e < n; e++) {
    const [j, pct, spent] = reply.slice(5 + e * 3, 8 + e * 3).map(Number);
    const slot = counters[j - 1];
    if (slot) reportThreshold(cb, thresholdEvent(slot, pct as 80 | 100, spent));
  }
  return 5 + n * 3;
}

/**
 * Every limit of a request (the key's and its team's rpm, tpm and budgets) in one Lua script per
 * check, so concurrent requests on any number of replicas are counted one by one. TATs expire once
 * their bucket is full again; budget counters a day after their period.
 *
 * One Redis round trip per request: a reconcile is not sent on its own but summed per name and
 * carried by the next check that touches those names (the script applies it first, with the same
 * arithmetic), or written by a timer within `reconcileFlushMs` when no such check comes. Applying a
 * TAT correction later gives the same TAT, because the check clamps to its own (later) now either
 * way; other replicas see a give-back up to `reconcileFlushMs` late, which only ever makes them
 * stricter. Threshold crossings are found by the script that moves `spent` over the line, so exactly
 * one replica reports each.
 */
export function createRedisLimiter(opts: RedisLimiterOptions): RateLimiter {
  const { redis, loadUsage } = opts;
  const prefix = opts.prefix ?? 'llmapi:rl:';
  const now = opts.now ?? Date.now;
  const flushMs = opts.reconcileFlushMs ?? 100;
  /** By hash tag: a check carries only what lives in its own slot. */
  const pending = new Map<string, Pending>();
  let flushTimer: NodeJS.Timeout | undefined;

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
    const entries = [...pending.values()];
    pending.clear();
    const nowUs = Math.floor(now() * 1000);
    await Promise.all(
      entries.map(async (p) => {
        const tats = [...p.tats];
        const counters = [...p.counters.values()];
        const keys = [...tats.map(([name]) => name), ...counters.map((c) => c.slot.name)];
        const args = [
          nowUs,
          'a',
          tats.length,
          counters.length,
          '0',
          ...tats.flatMap(([, adj]) => [1, 0, adj, 2]),
          ...counters.flatMap((c) => [c.slot.budget, 0, 0, 0, c.used, c.spent, -1, c.slot.thresholds ? '1' : '0']),
        ];
        try {
          const reply = (await runScript(redis, SCRIPT, keys, args)) as number[];
          emitEvents(reply, counters.map((c) => c.slot), opts.onBudgetThreshold);
        } catch (err) {
          reportReconcileError(err);
        }
      }),
    );
  }

  const seed = budgetSeeder(loadUsage, opts.onReseedFailed);

  /** Takes the pending corrections this plan's names can carry (the rest wait for the timer). */
  function carry(plan: LimitPlan): Pending | undefined {
    const p = pending.get(plan.tag);
    if (!p) return undefined;
    const taken: Pending = { tats: new Map(), counters: new Map() };
    for (const r of plan.rates) {
      const adj = p.tats.get(r.name);
      if (adj !== undefined) {
        taken.tats.set(r.name, adj);
        p.tats.delete(r.name);
      }
    }
    for (const c of plan.counters) {
      const adj = p.counters.get(c.name);
      if (adj !== undefined) {
        taken.counters.set(c.name, adj);
        p.counters.delete(c.name);
      }
    }
    if (p.tats.size === 0 && p.counters.size === 0) pending.delete(plan.tag);
    return taken;
  }

  return {
    async check(req: LimitCheck): Promise<LimitDecision> {
      validateCheck(req);
      const seeds = new Map<string, number>();
      let carried: Pending | undefined;
      let carriedTag: string | undefined;
      for (let attempt = 1; ; attempt++) {
        const nowMs = now();
        const plan = planCheck(prefix, req, nowMs);
        // Taken once: a call answered "missing" wrote nothing, so the retry sends the same ones.
        if (carriedTag !== plan.tag) {
          carried = carry(plan);
          carriedTag = plan.tag;
        }
        const keys = [...plan.rates.map((r) => r.name), ...plan.counters.map((c) => c.name)];
        const args = [
          Math.floor(nowMs * 1000),
          'c',
          plan.rates.length,
          plan.counters.length,
          loadUsage ? '0' : '1',
          ...plan.rates.flatMap((r) => [r.limit, r.cost, carried?.tats.get(r.name) ?? 0, r.kind === 'requests' ? 1 : 2]),
          ...plan.counters.flatMap((c) => {
            const adj = carried?.counters.get(c.name);
            return [c.budget, c.cost, c.ttlMs, c.window.msLeft, adj?.used ?? 0, adj?.spent ?? 0, seeds.get(c.name) ?? -1, c.thresholds ? '1' : '0'];
          }),
        ];
        const reply = ((await runScript(redis, SCRIPT, keys, args)) as number[]).map(Number);
        if (reply[0] === -1) {
          if (attempt >= MAX_SEED_ATTEMPTS) throw new Error('budget counter vanished while seeding it');
          const missing = reply.slice(1).map((j) => plan.counters[j - 1]);
          await Promise.all(missing.map(async (c) => seeds.set(c.name, await seed(c))));
          continue;
        }
        let at = emitEvents(reply, plan.counters, opts.onBudgetThreshold);
        const out: PlanOutcome = {
          allowed: reply[0] === 1,
          refused: reply[1] as PlanOutcome['refused'],
          refusedIndex: reply[2] - 1,
          retryAfterMs: reply[3],
          rates: plan.rates.map(() => ({ remaining: reply[at++], resetMs: reply[at++] })),
          newTats: [],
        };
        return decisionOf(plan, out);
      }
    },

    async reconcile(r: LimitReconcile): Promise<void> {
      const plan = planCheck(prefix, r.check, now(), r.periods);
      const adj = adjustmentsOf(plan, r);
      if (adj.tats.size === 0 && adj.counters.size === 0) return;
      let p = pending.get(plan.tag);
      if (!p) pending.set(plan.tag, (p = { tats: new Map(), counters: new Map() }));
      for (const [name, us] of adj.tats) p.tats.set(name, (p.tats.get(name) ?? 0) + us);
      for (const [name, a] of adj.counters) {
        const prev = p.counters.get(name);
        p.counters.set(name, prev ? { slot: a.slot, used: prev.used + a.used, spent: prev.spent + a.spent } : a);
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
