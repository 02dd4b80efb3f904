import {
  BUDGET_GRACE_MS,
  dayWindow,
  increment,
  micros,
  MICROS_PER_USD,
  monthWindow,
  periodLabels,
  reserveMicros,
  tokenCount,
  windowOf,
  type PlanOutcome,
  type PeriodWindow,
} from './limiter-math';
import type {
  BudgetPeriod,
  BudgetThresholdEvent,
  LimitCheck,
  LimitDecision,
  LimitPeriods,
  LimitReconcile,
  LimitScope,
} from './types';

/** One rate limit of a check: a TAT under `name`. */
export interface RateSlot {
  name: string;
  kind: 'requests' | 'tokens';
  scope: LimitScope;
  limit: number;
  /** 1 for requests, the reserved tokens for tokens. */
  cost: number;
}

/** One budget of a check: a counter of `used` (reserved + settled) and `spent` (settled) units. */
export interface CounterSlot {
  name: string;
  scope: LimitScope;
  id: string;
  unit: 'tokens' | 'usd';
  period: BudgetPeriod;
  /** Units: tokens, or micro-dollars. */
  budget: number;
  cost: number;
  window: PeriodWindow;
  /** Counter lifetime: the rest of its period plus a grace day. */
  ttlMs: number;
  /** Dollar budgets report 80 % / 100 % crossings. */
  thresholds: boolean;
}

/** Every limit one request touches, named so that all of them share one Redis Cluster slot. */
export interface LimitPlan {
  /** The hash tag: the team's id when the key has a team (its keys' counters live together), else the key's. */
  tag: string;
  rates: RateSlot[];
  counters: CounterSlot[];
  periods: LimitPeriods;
}

/**
 * Names: `{prefix}{t:TEAM}:…` or `{prefix}{k:KEY}:…`, then `req:k:KEY`, `tok:k:KEY`, `req:t:TEAM`,
 * `tok:t:TEAM`, `tokens:k:KEY:YYYY-MM`, `usd:k:KEY:YYYY-MM-DD`, `usd:t:TEAM:YYYY-MM`, …
 * A key that joins or leaves a team starts new counters; its dollar budgets are re-seeded from
 * Postgres like any counter Redis lost.
 */
export function planCheck(prefix: string, check: LimitCheck, nowMs: number, periods?: LimitPeriods): LimitPlan {
  const team = check.team ?? null;
  const tag = `${prefix}{${team ? `t:${team.id}` : `k:${check.keyId}`}}:`;
  // Windows are worked out only for the budgets a key has; the labels name the periods reconcile
  // must settle in (the ones the check reserved in, even if a day ended in between).
  const labels = periods ?? periodLabels(nowMs);
  let day: PeriodWindow | undefined;
  let month: PeriodWindow | undefined;
  const windowFor = (period: BudgetPeriod) =>
    period === 'day'
      ? (day ??= periods ? windowOf(periods.day, nowMs) : dayWindow(nowMs))
      : (month ??= periods ? windowOf(periods.month, nowMs) : monthWindow(nowMs));
  const tokens = tokenCount(check.tokens);
  const usd = reserveMicros(check.costUsd);

  const rates: RateSlot[] = [
    { name: `${tag}req:k:${check.keyId}`, kind: 'requests', scope: 'key', limit: check.rpm, cost: 1 },
    { name: `${tag}tok:k:${check.keyId}`, kind: 'tokens', scope: 'key', limit: check.tpm, cost: tokens },
  ];
  if (team?.rpm) rates.push({ name: `${tag}req:t:${team.id}`, kind: 'requests', scope: 'team', limit: team.rpm, cost: 1 });
  if (team?.tpm) rates.push({ name: `${tag}tok:t:${team.id}`, kind: 'tokens', scope: 'team', limit: team.tpm, cost: tokens });

  const counters: CounterSlot[] = [];
  const add = (scope: LimitScope, id: string, unit: 'tokens' | 'usd', period: BudgetPeriod, budget: number | null | undefined) => {
    if (budget === null || budget === undefined) return;
    const window = windowFor(period);
    counters.push({
      name: `${tag}${unit}:${scope === 'key' ? 'k' : 't'}:${id}:${window.label}`,
      scope,
      id,
      unit,
      period,
      budget: unit === 'usd' ? micros(budget) : Math.floor(budget),
      cost: unit === 'usd' ? usd : tokens,
      window,
      ttlMs: Math.max(1, window.msLeft + BUDGET_GRACE_MS),
      thresholds: unit === 'usd',
    });
  };
  add('key', check.keyId, 'tokens', 'month', check.budget);
  add('key', check.keyId, 'usd', 'day', check.dailyBudgetUsd);
  add('key', check.keyId, 'usd', 'month', check.monthlyBudgetUsd);
  if (team) {
    add('team', team.id, 'usd', 'day', team.dailyBudgetUsd);
    add('team', team.id, 'usd', 'month', team.monthlyBudgetUsd);
  }
  return { tag, rates, counters, periods: labels };
}

/** A reconcile's corrections, by counter or TAT name (both limiters apply them the same way). */
export interface Adjustments {
  /** TAT change in µs: increment(actual) - increment(reserved), per tokens slot. */
  tats: Map<string, number>;
  /** Per counter: `used` changes by actual - reserved, `spent` grows by actual. */
  counters: Map<string, { slot: CounterSlot; used: number; spent: number }>;
}

export function adjustmentsOf(plan: LimitPlan, r: LimitReconcile): Adjustments {
  const tokens = tokenCount(r.tokens);
  const usd = micros(r.costUsd);
  const out: Adjustments = { tats: new Map(), counters: new Map() };
  for (const s of plan.rates) {
    if (s.kind !== 'tokens') continue;
    const adj = increment(tokens, s.limit) - increment(s.cost, s.limit);
    if (adj !== 0) out.tats.set(s.name, adj);
  }
  for (const c of plan.counters) {
    const actual = c.unit === 'usd' ? usd : tokens;
    if (actual !== c.cost || actual > 0) out.counters.set(c.name, { slot: c, used: actual - c.cost, spent: actual });
  }
  return out;
}

export function thresholdEvent(slot: CounterSlot, percent: 80 | 100, spentUnits: number): BudgetThresholdEvent {
  return {
    scope: slot.scope,
    id: slot.id,
    period: slot.period,
    percent,
    spent_usd: spentUnits / MICROS_PER_USD,
    budget_usd: slot.budget / MICROS_PER_USD,
  };
}

/** The tightest of a kind: the slot with the least left (the key's on a tie). */
function tightest(plan: LimitPlan, out: PlanOutcome, kind: RateSlot['kind']) {
  let best = -1;
  plan.rates.forEach((s, i) => {
    if (s.kind === kind && (best < 0 || out.rates[i].remaining < out.rates[best].remaining)) best = i;
  });
  return { limit: plan.rates[best].limit, ...out.rates[best] };
}

export function decisionOf(plan: LimitPlan, out: PlanOutcome): LimitDecision {
  const req = tightest(plan, out, 'requests');
  const tok = tightest(plan, out, 'tokens');
  const d: LimitDecision = {
    allowed: out.allowed,
    limitRequests: req.limit,
    remainingRequests: req.remaining,
    resetRequestsMs: req.resetMs,
    limitTokens: tok.limit,
    remainingTokens: tok.remaining,
    resetTokensMs: tok.resetMs,
    retryAfterMs: out.retryAfterMs,
    periods: plan.periods,
  };
  if (out.refused === 3) {
    const c = plan.counters[out.refusedIndex];
    d.refusedBy = 'budget';
    d.refusedScope = c.scope;
    d.refusedBudget = {
      period: c.period,
      unit: c.unit,
      limit: c.unit === 'usd' ? c.budget / MICROS_PER_USD : c.budget,
      resetsAt: c.window.end,
    };
  } else if (out.refused !== 0) {
    const s = plan.rates[out.refusedIndex];
    d.refusedBy = s.kind;
    d.refusedScope = s.scope;
  }
  return d;
}
