import type { LimitCheck } from './types';

/**
 * GCRA (generic cell rate algorithm) shared by the in-process limiter; `limiter-script.ts` holds the
 * same arithmetic in Lua. Each rate limit keeps one number, its theoretical arrival time (TAT): the
 * moment the bucket would be full again. A request of cost c moves it by c × (window / limit); it is
 * allowed while TAT − now stays within one window. So a fresh key may spend its whole minute at once
 * (burst = the per-minute limit) and capacity then comes back evenly.
 *
 * Times are whole microseconds and increments are floored, so the arithmetic is exact in both JS and
 * Lua doubles: 7 requests at rpm=7 fit, the 8th does not, whatever the float rounding would say.
 * Budgets are counters of whole units (tokens, or micro-dollars), exact for the same reason.
 */
export const WINDOW_US = 60_000_000;
export const WINDOW_MS = WINDOW_US / 1000;
/** Budget counters outlive their period a little, so a late reconcile does not recreate one. */
export const BUDGET_GRACE_MS = 24 * 3600 * 1000;
/** Dollar budgets are counted in whole micro-dollars. */
export const MICROS_PER_USD = 1_000_000;

export function increment(cost: number, limit: number): number {
  return Math.floor((cost * WINDOW_US) / limit);
}

export function remaining(tat: number, nowUs: number, limit: number): number {
  return Math.max(0, Math.floor(((WINDOW_US - (tat - nowUs)) * limit) / WINDOW_US));
}

export function ceilMs(us: number): number {
  return Math.max(0, Math.ceil(us / 1000));
}

/** Token counts are whole and never negative. */
export function tokenCount(n: number): number {
  return Number.isFinite(n) && n > 0 ? Math.ceil(n) : 0;
}

/** A reservation in micro-dollars: rounded up, so many small requests cannot slip under a budget. */
export function reserveMicros(usd: number | null | undefined): number {
  return typeof usd === 'number' && Number.isFinite(usd) && usd > 0 ? Math.ceil(usd * MICROS_PER_USD - 1e-6) : 0;
}

/** A settled cost or a budget in micro-dollars. */
export function micros(usd: number | null | undefined): number {
  return typeof usd === 'number' && Number.isFinite(usd) && usd > 0 ? Math.round(usd * MICROS_PER_USD) : 0;
}

/** Rejects values that would divide by zero or poison a counter; the caller's bug, not the store's. */
export function validateCheck(req: LimitCheck): void {
  const positive = (v: number) => v > 0 && Number.isFinite(v);
  const budget = (v: number | null | undefined) => v === null || v === undefined || (v >= 0 && Number.isFinite(v));
  if (!positive(req.rpm)) throw new Error(`rpm must be a positive number, got ${req.rpm}`);
  if (!positive(req.tpm)) throw new Error(`tpm must be a positive number, got ${req.tpm}`);
  if (!budget(req.budget)) throw new Error(`budget must be null or >= 0, got ${req.budget}`);
  if (req.costUsd !== undefined && !(req.costUsd >= 0 && Number.isFinite(req.costUsd))) {
    throw new Error(`costUsd must be >= 0, got ${req.costUsd}`);
  }
  for (const [name, v] of [
    ['dailyBudgetUsd', req.dailyBudgetUsd],
    ['monthlyBudgetUsd', req.monthlyBudgetUsd],
    ['team.dailyBudgetUsd', req.team?.dailyBudgetUsd],
    ['team.monthlyBudgetUsd', req.team?.monthlyBudgetUsd],
  ] as const) {
    if (!budget(v)) throw new Error(`${name} must be null or >= 0, got ${v}`);
  }
  if (req.team) {
    if (req.team.rpm !== null && !positive(req.team.rpm)) throw new Error(`team rpm must be null or positive, got ${req.team.rpm}`);
    if (req.team.tpm !== null && !positive(req.team.tpm)) throw new Error(`team tpm must be null or positive, got ${req.team.tpm}`);
  }
}

export interface PeriodWindow {
  /** `YYYY-MM-DD` or `YYYY-MM` in UTC: the counter's suffix. */
  label: string;
  start: Date;
  /** When the next period starts. */
  end: Date;
  /** Milliseconds until the next period starts (what a budget refusal waits for). */
  msLeft: number;
}
/** Kept for callers of the month-only API. */
export type MonthWindow = PeriodWindow;

const pad = (n: number) => String(n).padStart(2, '0');

export function monthWindow(nowMs: number): PeriodWindow {
  const d = new Date(nowMs);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth();
  const end = Date.UTC(y, m + 1, 1);
  return { label: `${y}-${pad(m + 1)}`, start: new Date(Date.UTC(y, m, 1)), end: new Date(end), msLeft: end - nowMs };
}

export function dayWindow(nowMs: number): PeriodWindow {
  const d = new Date(nowMs);
  const start = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
  const end = start + 86_400_000;
  return { label: `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`, start: new Date(start), end: new Date(end), msLeft: end - nowMs };
}

/** The labels of the UTC day and month `nowMs` falls in (`YYYY-MM-DD`, `YYYY-MM`). */
export function periodLabels(nowMs: number): { day: string; month: string } {
  const iso = new Date(nowMs).toISOString();
  return { day: iso.slice(0, 10), month: iso.slice(0, 7) };
}

/** The window a period label names (`YYYY-MM-DD` or `YYYY-MM`), seen from `nowMs`. */
export function windowOf(label: string, nowMs: number): PeriodWindow {
  const [y, m, d] = label.split('-').map(Number);
  const start = d === undefined ? Date.UTC(y, m - 1, 1) : Date.UTC(y, m - 1, d);
  const end = d === undefined ? Date.UTC(y, m, 1) : start + 86_400_000;
  return { label, start: new Date(start), end: new Date(end), msLeft: end - nowMs };
}

/** The thresholds (80 %, 100 %) a settled spend crossed going from `before` to `after` units. */
export function crossedThresholds(budget: number, before: number, after: number): Array<80 | 100> {
  const out: Array<80 | 100> = [];
  if (!(budget > 0)) return out;
  // × 5 against × 4 rather than × 0.8: whole numbers stay exact (Lua does the same).
  if (before * 5 < budget * 4 && after * 5 >= budget * 4) out.push(80);
  if (before < budget && after >= budget) out.push(100);
  return out;
}

/** What a plan's evaluation needs of each limit (see limiter-plan.ts). */
export interface RateInput {
  /** 1 requests, 2 tokens: also the refusal precedence after budgets. */
  kind: 1 | 2;
  limit: number;
  cost: number;
  /** Stored TAT (0 when absent). */
  tat: number;
}

export interface CounterInput {
  budget: number;
  cost: number;
  resetMs: number;
  used: number;
}

export interface PlanOutcome {
  allowed: boolean;
  /** 0 none, 1 requests, 2 tokens, 3 budget. */
  refused: 0 | 1 | 2 | 3;
  /** Index (0-based) of the refusing rate or counter. */
  refusedIndex: number;
  retryAfterMs: number;
  /** Per rate: remaining and ms to reset, after the request when allowed. */
  rates: Array<{ remaining: number; resetMs: number }>;
  /** Per rate: the TAT to store (only when allowed). */
  newTats: number[];
}

/**
 * One check over every limit of a plan; CHECK in limiter-script.ts is this, line for line. A spent
 * budget refuses first (waiting a minute will not fix it; of several, the one that resets last is
 * named), then requests, then tokens. A request larger than a whole tpm is refused outright (OpenAI's
 * "request too large") with a one-window wait: letting it through would put the key in debt for
 * minutes, holding it back forever would wedge it.
 */
export function evaluatePlan(nowUs: number, rates: RateInput[], counters: CounterInput[]): PlanOutcome {
  let refused: PlanOutcome['refused'] = 0;
  let refusedIndex = -1;
  let retry = 0;
  let refusedReset = -1;
  counters.forEach((c, j) => {
    if (c.used >= c.budget || c.used + c.cost > c.budget) {
      refused = 3;
      if (c.resetMs > refusedReset) {
        refusedReset = c.resetMs;
        refusedIndex = j;
      }
      retry = Math.max(retry, c.resetMs);
    }
  });
  const tats = rates.map((r) => Math.max(r.tat, nowUs));
  const newTats = rates.map((r, i) => tats[i] + increment(r.cost, r.limit));
  rates.forEach((r, i) => {
    let wait = 0;
    if (r.cost > r.limit) wait = WINDOW_MS;
    else if (newTats[i] - nowUs > WINDOW_US) wait = ceilMs(newTats[i] - nowUs - WINDOW_US);
    if (wait > 0) {
      retry = Math.max(retry, wait);
      if (refused === 0 || (refused === 2 && r.kind === 1)) {
        refused = r.kind;
        refusedIndex = i;
      }
    }
  });
  const after = refused === 0 ? newTats : tats;
  return {
    allowed: refused === 0,
    refused,
    refusedIndex,
    retryAfterMs: refused === 0 ? 0 : Math.max(1, retry),
    rates: rates.map((r, i) => ({ remaining: remaining(after[i], nowUs, r.limit), resetMs: ceilMs(after[i] - nowUs) })),
    newTats,
  };
}

/** The token TAT after a reconcile: the exact inverse of the reservation's increment, never before now. */
export function reconcileTat(tokenTat: number, nowUs: number, tpm: number, reserved: number, actual: number): number {
  const adj = increment(actual, tpm) - increment(reserved, tpm);
  return Math.max(Math.max(tokenTat, nowUs) + adj, nowUs);
}
