import type { LimitCheck, LimitDecision, LimitKind } from './types';

/**
 * GCRA (generic cell rate algorithm) shared by the in-process limiter; `limiter-script.ts` holds the
 * same arithmetic in Lua. Each limit keeps one number, its theoretical arrival time (TAT): the moment
 * the bucket would be full again. A request of cost c moves it by c × (window / limit); it is allowed
 * while TAT − now stays within one window. So a fresh key may spend its whole minute at once
 * (burst = the per-minute limit) and capacity then comes back evenly.
 *
 * Times are whole microseconds and increments are floored, so the arithmetic is exact in both JS and
 * Lua doubles: 7 requests at rpm=7 fit, the 8th does not, whatever the float rounding would say.
 */
export const WINDOW_US = 60_000_000;
const WINDOW_MS = WINDOW_US / 1000;
/** Budget counters outlive their month a little, so a late reconcile does not recreate one. */
export const BUDGET_GRACE_MS = 24 * 3600 * 1000;

/** Refusal precedence: a spent budget is what the caller must hear about, waiting will not fix it. */
const REFUSAL_ORDER: LimitKind[] = ['budget', 'requests', 'tokens'];

export function increment(cost: number, limit: number): number {
  return Math.floor((cost * WINDOW_US) / limit);
}

export function remaining(tat: number, nowUs: number, limit: number): number {
  return Math.max(0, Math.floor(((WINDOW_US - (tat - nowUs)) * limit) / WINDOW_US));
}

export function ceilMs(us: number): number {
  return Math.max(0, Math.ceil(us / 1000));
}

/** Rejects values that would divide by zero or poison a counter; the caller's bug, not the store's. */
export function validateCheck(req: LimitCheck): void {
  if (!(req.rpm > 0) || !Number.isFinite(req.rpm)) throw new Error(`rpm must be a positive number, got ${req.rpm}`);
  if (!(req.tpm > 0) || !Number.isFinite(req.tpm)) throw new Error(`tpm must be a positive number, got ${req.tpm}`);
  if (req.budget !== null && !(req.budget >= 0)) throw new Error(`budget must be null or >= 0, got ${req.budget}`);
}

/** Token counts are whole and never negative. */
export function tokenCount(n: number): number {
  return Number.isFinite(n) && n > 0 ? Math.ceil(n) : 0;
}

export interface MonthWindow {
  /** `YYYY-MM` in UTC: the budget counter's suffix. */
  label: string;
  start: Date;
  /** Milliseconds until the next month starts (what a budget refusal waits for). */
  msLeft: number;
}

export function monthWindow(nowMs: number): MonthWindow {
  const d = new Date(nowMs);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth();
  const start = Date.UTC(y, m, 1);
  const next = Date.UTC(y, m + 1, 1);
  return { label: `${y}-${String(m + 1).padStart(2, '0')}`, start: new Date(start), msLeft: next - nowMs };
}

export interface GcraInput {
  nowUs: number;
  /** Stored TATs (0 when absent) and the budget counter (ignored when there is no budget). */
  requestTat: number;
  tokenTat: number;
  used: number;
  rpm: number;
  tpm: number;
  tokens: number;
  budget: number | null;
  msToMonthEnd: number;
}

export interface GcraOutput {
  decision: LimitDecision;
  /** New TATs to store, only when allowed. */
  requestTat: number;
  tokenTat: number;
}

/**
 * One check. A request larger than the whole tpm is refused outright (OpenAI's "request too large"):
 * letting it through would put the key in debt for minutes, holding it back forever would wedge it.
 * Its retryAfterMs is one window, since waiting cannot make it fit.
 */
export function evaluate(i: GcraInput): GcraOutput {
  const rTat = Math.max(i.requestTat, i.nowUs);
  const tTat = Math.max(i.tokenTat, i.nowUs);
  const rNew = rTat + increment(1, i.rpm);
  const tNew = tTat + increment(i.tokens, i.tpm);
  const waits: Partial<Record<LimitKind, number>> = {};
  if (i.budget !== null && (i.used >= i.budget || i.used + i.tokens > i.budget)) waits.budget = i.msToMonthEnd;
  if (rNew - i.nowUs > WINDOW_US) waits.requests = ceilMs(rNew - i.nowUs - WINDOW_US);
  if (i.tokens > i.tpm) waits.tokens = WINDOW_MS;
  else if (tNew - i.nowUs > WINDOW_US) waits.tokens = ceilMs(tNew - i.nowUs - WINDOW_US);
  const refusedBy = REFUSAL_ORDER.find((k) => waits[k] !== undefined);
  const base = { limitRequests: i.rpm, limitTokens: i.tpm };
  if (refusedBy) {
    const retry = Math.max(1, ...Object.values(waits));
    return {
      decision: {
        allowed: false,
        refusedBy,
        ...base,
        remainingRequests: remaining(rTat, i.nowUs, i.rpm),
        resetRequestsMs: ceilMs(rTat - i.nowUs),
        remainingTokens: remaining(tTat, i.nowUs, i.tpm),
        resetTokensMs: ceilMs(tTat - i.nowUs),
        retryAfterMs: retry,
      },
      requestTat: i.requestTat,
      tokenTat: i.tokenTat,
    };
  }
  return {
    decision: {
      allowed: true,
      ...base,
      remainingRequests: remaining(rNew, i.nowUs, i.rpm),
      resetRequestsMs: ceilMs(rNew - i.nowUs),
      remainingTokens: remaining(tNew, i.nowUs, i.tpm),
      resetTokensMs: ceilMs(tNew - i.nowUs),
      retryAfterMs: 0,
    },
    requestTat: rNew,
    tokenTat: tNew,
  };
}

/** The token TAT after a reconcile: the exact inverse of the reservation's increment, never before now. */
export function reconcileTat(tokenTat: number, nowUs: number, tpm: number, reserved: number, actual: number): number {
  const adj = increment(actual, tpm) - increment(reserved, tpm);
  return Math.max(Math.max(tokenTat, nowUs) + adj, nowUs);
}
