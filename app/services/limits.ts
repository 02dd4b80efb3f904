import { QuotaExceededError, RateLimitError } from '../errors';
import type { ApiKeyRecord, LimitCheck, LimitDecision, RateLimiter } from '../stores/types';

export interface LimitDefaults {
  rpm: number;
  tpm: number;
}

/** OpenAI's duration style for reset headers: `20ms`, `1s`, `6m0s`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.ceil(ms))}ms`;
  const totalSeconds = Math.ceil(ms / 1000);
  const m = Math.floor(totalSeconds / 60);
  const s = totalSeconds % 60;
  if (m === 0) return `${s}s`;
  const h = Math.floor(m / 60);
  return h > 0 ? `${h}h${m % 60}m${s}s` : `${m}m${s}s`;
}

export function rateLimitHeaders(d: LimitDecision): Record<string, string> {
  return {
    'x-ratelimit-limit-requests': String(d.limitRequests),
    'x-ratelimit-remaining-requests': String(Math.max(0, d.remainingRequests)),
    'x-ratelimit-reset-requests': formatDuration(d.resetRequestsMs),
    'x-ratelimit-limit-tokens': String(d.limitTokens),
    'x-ratelimit-remaining-tokens': String(Math.max(0, d.remainingTokens)),
    'x-ratelimit-reset-tokens': formatDuration(d.resetTokensMs),
  };
}

/** What a request reserves, or really used: tokens, and dollars (null when the model has no price). */
export interface Amounts {
  tokens: number;
  costUsd: number | null;
}

export interface Reservation {
  decision: LimitDecision;
  headers: Record<string, string>;
  /** Settles the reservation with what was really used (zeros for answers that cost nothing). Once; later calls do nothing. */
  settle(actual: Amounts): void;
}

/** True when the key (or its team) has a budget: a decision does not say what is left of one. */
export function hasBudget(key: ApiKeyRecord): boolean {
  return (
    key.monthlyTokenBudget !== null ||
    key.monthlyBudgetUsd !== null ||
    key.dailyBudgetUsd !== null ||
    (key.team !== null && (key.team.monthlyBudgetUsd !== null || key.team.dailyBudgetUsd !== null))
  );
}

/** The limiter's view of the key and its team, with the defaults for what the key leaves unset. */
export function limitCheck(key: ApiKeyRecord, amounts: Amounts, defaults: LimitDefaults): LimitCheck {
  const team = key.team;
  return {
    keyId: key.id,
    rpm: key.rpm ?? defaults.rpm,
    tpm: key.tpm ?? defaults.tpm,
    budget: key.monthlyTokenBudget,
    tokens: amounts.tokens,
    costUsd: amounts.costUsd ?? 0,
    dailyBudgetUsd: key.dailyBudgetUsd,
    monthlyBudgetUsd: key.monthlyBudgetUsd,
    team: team
      ? { id: team.id, rpm: team.rpm, tpm: team.tpm, dailyBudgetUsd: team.dailyBudgetUsd, monthlyBudgetUsd: team.monthlyBudgetUsd }
      : null,
  };
}

function refusal(key: ApiKeyRecord, check: LimitCheck, d: LimitDecision, headers: Record<string, string>): Error {
  const retryHeaders = { ...headers, 'retry-after': String(Math.max(1, Math.ceil(d.retryAfterMs / 1000))) };
  // The key by id: every error is scrubbed of credential-shaped text, and a display prefix
  // (`sk-llm-AbC1…`) reads as one.
  const whose = d.refusedScope === 'team' && key.team ? `team '${key.team.name}'` : `key ${key.id}`;
  if (d.refusedBy === 'budget') {
    const b = d.refusedBudget;
    const period = b?.period === 'day' ? 'daily' : 'monthly';
    const what = b?.unit === 'usd' ? `${period} budget of $${b.limit}` : `${period} token budget of ${b?.limit ?? check.budget} tokens`;
    const resetsAt = (b?.resetsAt ?? new Date(Date.now() + d.retryAfterMs)).toISOString();
    return new QuotaExceededError(
      `You exceeded the ${what} for ${whose}. It resets at ${resetsAt} (in ${formatDuration(d.retryAfterMs)}); ask an administrator to raise it.`,
      retryHeaders,
      'budget',
    );
  }
  const kind = d.refusedBy === 'tokens' ? 'tokens' : 'requests';
  const what = kind === 'tokens' ? `tokens per min (TPM): Limit ${d.limitTokens}` : `requests per min (RPM): Limit ${d.limitRequests}`;
  return new RateLimitError(
    `Rate limit reached for ${whose} on ${what}. Please try again in ${formatDuration(d.retryAfterMs)}.`,
    retryHeaders,
    kind,
  );
}

/**
 * Reserves one request, `amounts.tokens` tokens and `amounts.costUsd` dollars for `key` and its team
 * in one limiter call (one Redis round trip), or throws a 429: RateLimitError for rpm/tpm,
 * QuotaExceededError for a spent budget (its message names the budget and when it resets;
 * retry-after is the wait). Both carry `refusedBy`.
 */
export async function reserve(
  limiter: RateLimiter,
  key: ApiKeyRecord,
  amounts: Amounts,
  defaults: LimitDefaults,
  onReconcileError?: (err: unknown) => void,
): Promise<Reservation> {
  const check = limitCheck(key, amounts, defaults);
  const decision = await limiter.check(check);
  const headers = rateLimitHeaders(decision);
  if (!decision.allowed) throw refusal(key, check, decision, headers);
  let settled = false;
  return {
    decision,
    headers,
    settle(actual) {
      if (settled) return;
      settled = true;
      const costUsd = actual.costUsd ?? 0;
      // Nothing to correct (the usual free answer: a cache hit of an unpriced model).
      if (actual.tokens === amounts.tokens && costUsd === 0 && check.costUsd === 0) return;
      limiter
        .reconcile({ check, periods: decision.periods, tokens: actual.tokens, costUsd })
        .catch((err) => onReconcileError?.(err));
    },
  };
}
