import { QuotaExceededError, RateLimitError } from '../errors';
import type { ApiKeyRecord, LimitDecision, LimitKind, RateLimiter } from '../stores/types';

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

export interface Reservation {
  decision: LimitDecision;
  headers: Record<string, string>;
  /** Settles the reservation with the tokens really used (0 for answers that cost nothing). */
  settle(actualTokens: number): void;
}

/**
 * Reserves one request and `tokens` tokens for `key`, or throws a 429 carrying the limit headers
 * and `retry-after` (and notes in `stats` which limit refused it).
 */
export async function reserve(
  limiter: RateLimiter,
  key: ApiKeyRecord,
  tokens: number,
  defaults: LimitDefaults,
  onReconcileError?: (err: unknown) => void,
  stats?: { rateLimited?: LimitKind },
): Promise<Reservation> {
  const rpm = key.rpm ?? defaults.rpm;
  const tpm = key.tpm ?? defaults.tpm;
  const budget = key.monthlyTokenBudget;
  const decision = await limiter.check({ keyId: key.id, rpm, tpm, budget, tokens });
  const headers = rateLimitHeaders(decision);
  if (!decision.allowed) {
    if (stats) stats.rateLimited = decision.refusedBy ?? 'requests';
    const retry = { ...headers, 'retry-after': String(Math.max(1, Math.ceil(decision.retryAfterMs / 1000))) };
    if (decision.refusedBy === 'budget') {
      throw new QuotaExceededError(
        'You exceeded your monthly token budget for this key. Ask an administrator to raise it.',
        retry,
      );
    }
    const what = decision.refusedBy === 'tokens' ? `tokens per min (TPM): Limit ${tpm}` : `requests per min (RPM): Limit ${rpm}`;
    throw new RateLimitError(
      `Rate limit reached for key ${key.prefix}… on ${what}. Please try again in ${formatDuration(decision.retryAfterMs)}.`,
      retry,
    );
  }
  let settled = false;
  return {
    decision,
    headers,
    settle(actual) {
      if (settled) return;
      settled = true;
      if (actual === tokens) return;
      limiter
        .reconcile({ keyId: key.id, tpm, budget, reserved: tokens, actual })
        .catch((err) => onReconcileError?.(err));
    },
  };
}
