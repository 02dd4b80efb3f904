import { QuotaExceededError, RateLimitError } from '../../../app/errors';
import { formatDuration, rateLimitHeaders, reserve } from '../../../app/services/limits';
import { createMemoryLimiter } from '../../../app/stores/limiter-memory';
import type { LimitDecision, LimitKind, RateLimiter } from '../../../app/stores/types';
import { keyRecord as key } from '../../support/fixtures';

const DEFAULTS = { rpm: 60, tpm: 100_000 };


const ALLOWED: LimitDecision = {
  allowed: true,
  limitRequests: 60,
  remainingRequests: 59,
  resetRequestsMs: 1000,
  limitTokens: 100_000,
  remainingTokens: 99_900,
  resetTokensMs: 60,
  retryAfterMs: 0,
};

function refused(refusedBy: LimitKind, retryAfterMs: number): LimitDecision {
  return { ...ALLOWED, allowed: false, refusedBy, remainingRequests: 0, retryAfterMs };
}

/** A limiter answering `decision`, recording what it was asked. */
function fakeLimiter(decision: LimitDecision) {
  const limiter = {
    check: jest.fn(async () => decision),
    reconcile: jest.fn(async () => undefined),
    ping: async () => undefined,
    close: async () => undefined,
  } satisfies RateLimiter;
  return limiter;
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('formatDuration', () => {
  it.each([
    [0, '0ms'],
    [-5, '0ms'],
    [20, '20ms'],
    [999, '999ms'],
    [1000, '1s'],
    [1001, '2s'],
    [60_000, '1m0s'],
    [61_000, '1m1s'],
    [3_600_000, '1h0m0s'],
    [3_661_000, '1h1m1s'],
  ])('formats %p ms as %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});

describe('rateLimitHeaders', () => {
  it("names and fills OpenAI's six headers", () => {
    expect(rateLimitHeaders(ALLOWED)).toEqual({
      'x-ratelimit-limit-requests': '60',
      'x-ratelimit-remaining-requests': '59',
      'x-ratelimit-reset-requests': '1s',
      'x-ratelimit-limit-tokens': '100000',
      'x-ratelimit-remaining-tokens': '99900',
      'x-ratelimit-reset-tokens': '60ms',
    });
  });

  it('never shows a negative remainder', () => {
    const h = rateLimitHeaders({ ...ALLOWED, remainingRequests: -1, remainingTokens: -500 });
    expect(h['x-ratelimit-remaining-requests']).toBe('0');
    expect(h['x-ratelimit-remaining-tokens']).toBe('0');
  });
});

const amounts = (tokens: number, costUsd: number | null = null) => ({ tokens, costUsd });

describe('reserve', () => {
  it('asks the limiter with the default limits for a key that sets none', async () => {
    const limiter = fakeLimiter(ALLOWED);
    const k = key();
    const r = await reserve(limiter, k, amounts(120), DEFAULTS);
    expect(limiter.check).toHaveBeenCalledWith({
      keyId: k.id,
      rpm: 60,
      tpm: 100_000,
      budget: null,
      tokens: 120,
      costUsd: 0,
      dailyBudgetUsd: null,
      monthlyBudgetUsd: null,
      team: null,
    });
    expect(r.decision).toBe(ALLOWED);
    expect(r.headers).toEqual(rateLimitHeaders(ALLOWED));
  });

  it("uses the key's own limits and budgets, and passes its team's in the same check", async () => {
    const limiter = fakeLimiter(ALLOWED);
    const team = { id: 'team-1', name: 'research', rpm: 50, tpm: null, monthlyBudgetUsd: 100, dailyBudgetUsd: null, models: null, createdAt: new Date() };
    const k = key({ rpm: 5, tpm: 700, monthlyTokenBudget: 9000, dailyBudgetUsd: 1.5, teamId: team.id, team });
    await reserve(limiter, k, amounts(10, 0.25), DEFAULTS);
    expect(limiter.check).toHaveBeenCalledTimes(1);
    expect(limiter.check).toHaveBeenCalledWith({
      keyId: k.id,
      rpm: 5,
      tpm: 700,
      budget: 9000,
      tokens: 10,
      costUsd: 0.25,
      dailyBudgetUsd: 1.5,
      monthlyBudgetUsd: null,
      team: { id: 'team-1', rpm: 50, tpm: null, dailyBudgetUsd: null, monthlyBudgetUsd: 100 },
    });
  });

  it('settles once with the actual tokens and cost, into the periods of the reservation', async () => {
    const periods = { day: '2031-05-15', month: '2031-05' };
    const limiter = fakeLimiter({ ...ALLOWED, periods });
    const k = key({ tpm: 700, monthlyTokenBudget: 9000 });
    const r = await reserve(limiter, k, amounts(100, 0.5), DEFAULTS);
    r.settle(amounts(42, 0.1));
    r.settle(amounts(42, 0.1));
    r.settle(amounts(7));
    expect(limiter.reconcile).toHaveBeenCalledTimes(1);
    expect(limiter.reconcile).toHaveBeenCalledWith({
      check: expect.objectContaining({ keyId: k.id, tpm: 700, budget: 9000, tokens: 100, costUsd: 0.5 }),
      periods,
      tokens: 42,
      costUsd: 0.1,
    });
  });

  it('settles a priced request even when the tokens match (the spend must be counted)', async () => {
    const limiter = fakeLimiter(ALLOWED);
    const r = await reserve(limiter, key(), amounts(100, 0.2), DEFAULTS);
    r.settle(amounts(100, 0.2));
    expect(limiter.reconcile).toHaveBeenCalledTimes(1);
  });

  it('does not reconcile when nothing changes: same tokens, no cost', async () => {
    const limiter = fakeLimiter(ALLOWED);
    const r = await reserve(limiter, key(), amounts(100), DEFAULTS);
    r.settle(amounts(100));
    r.settle(amounts(50));
    expect(limiter.reconcile).not.toHaveBeenCalled();
  });

  it('hands a failed reconcile to onReconcileError instead of throwing', async () => {
    const limiter = fakeLimiter(ALLOWED);
    limiter.reconcile.mockRejectedValueOnce(new Error('redis down'));
    const onError = jest.fn();
    const r = await reserve(limiter, key(), amounts(100), DEFAULTS, onError);
    expect(() => r.settle(amounts(0))).not.toThrow();
    await flush();
    expect(onError).toHaveBeenCalledWith(expect.objectContaining({ message: 'redis down' }));
  });

  it.each([
    ['requests', /requests per min \(RPM\): Limit 60/],
    ['tokens', /tokens per min \(TPM\): Limit 100000/],
  ] as const)('refuses when %s run out: RateLimitError 429 rate_limit_exceeded, refusedBy', async (by, message) => {
    const limiter = fakeLimiter(refused(by, 2500));
    const k = key({ rpm: 5, tpm: 700 });
    const err = await reserve(limiter, k, amounts(10), DEFAULTS).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RateLimitError);
    expect(err).toMatchObject({ status: 429, type: 'rate_limit_error', code: 'rate_limit_exceeded', refusedBy: by });
    expect((err as RateLimitError).message).toMatch(message);
    expect((err as RateLimitError).message).toContain(`key ${k.id}`);
    expect((err as RateLimitError).headers).toEqual({ ...rateLimitHeaders(refused(by, 2500)), 'retry-after': '3' });
  });

  it("names the team when the team's limit refused", async () => {
    const team = { id: 't', name: 'research', rpm: 3, tpm: null, monthlyBudgetUsd: null, dailyBudgetUsd: null, models: null, createdAt: new Date() };
    const limiter = fakeLimiter({ ...refused('requests', 1000), refusedScope: 'team', limitRequests: 3 });
    const err = (await reserve(limiter, key({ team, teamId: 't' }), amounts(1), DEFAULTS).catch((e: unknown) => e)) as RateLimitError;
    expect(err.message).toMatch(/Rate limit reached for team 'research' on requests per min \(RPM\): Limit 3/);
  });

  it.each([0, 1, 999])('asks for a retry-after of at least one second (retryAfterMs %p)', async (ms) => {
    const err = (await reserve(fakeLimiter(refused('requests', ms)), key(), amounts(1), DEFAULTS).catch((e: unknown) => e)) as RateLimitError;
    expect(err.headers['retry-after']).toBe('1');
  });

  it('refuses a spent monthly token budget with QuotaExceededError (insufficient_quota)', async () => {
    const d = { ...refused('budget', 86_400_000), refusedScope: 'key' as const, refusedBudget: { period: 'month' as const, unit: 'tokens' as const, limit: 100, resetsAt: new Date('2031-06-01T00:00:00Z') } };
    const err = await reserve(fakeLimiter(d), key({ monthlyTokenBudget: 100 }), amounts(10), DEFAULTS).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QuotaExceededError);
    expect(err).toMatchObject({ status: 429, type: 'insufficient_quota', code: 'insufficient_quota', refusedBy: 'budget' });
    expect((err as QuotaExceededError).message).toMatch(/monthly token budget of 100 tokens for key [0-9a-f-]{36}\./);
    expect((err as QuotaExceededError).headers['retry-after']).toBe('86400');
  });

  it("says which dollar budget is spent and when it resets (the team's daily one)", async () => {
    const team = { id: 't', name: 'research', rpm: null, tpm: null, monthlyBudgetUsd: null, dailyBudgetUsd: 5, models: null, createdAt: new Date() };
    const resetsAt = new Date('2031-05-16T00:00:00Z');
    const d = { ...refused('budget', 3_600_000), refusedScope: 'team' as const, refusedBudget: { period: 'day' as const, unit: 'usd' as const, limit: 5, resetsAt } };
    const err = (await reserve(fakeLimiter(d), key({ team, teamId: 't' }), amounts(10, 0.01), DEFAULTS).catch((e: unknown) => e)) as QuotaExceededError;
    expect(err).toBeInstanceOf(QuotaExceededError);
    expect(err.message).toBe(
      "You exceeded the daily budget of $5 for team 'research'. It resets at 2031-05-16T00:00:00.000Z (in 1h0m0s); ask an administrator to raise it.",
    );
    expect(err.headers['retry-after']).toBe('3600');
  });

  it('enforces a key rpm against the in-process limiter', async () => {
    const t = Date.UTC(2031, 4, 15, 12);
    const limiter = createMemoryLimiter({ now: () => t });
    const k = key({ rpm: 2 });
    const first = await reserve(limiter, k, amounts(10), DEFAULTS);
    expect(first.headers['x-ratelimit-limit-requests']).toBe('2');
    expect(first.headers['x-ratelimit-remaining-requests']).toBe('1');
    await reserve(limiter, k, amounts(10), DEFAULTS);
    const err = (await reserve(limiter, k, amounts(10), DEFAULTS).catch((e: unknown) => e)) as RateLimitError;
    expect(err).toBeInstanceOf(RateLimitError);
    expect(err.headers['x-ratelimit-remaining-requests']).toBe('0');
    expect(Number(err.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    // Another key is unaffected.
    await expect(reserve(limiter, key({ rpm: 2 }), amounts(10), DEFAULTS)).resolves.toBeDefined();
  });

  it('gives tokens and dollars back on settle, so a later request fits in the in-process limiter', async () => {
    const t = Date.UTC(2031, 4, 15, 12);
    const limiter = createMemoryLimiter({ now: () => t });
    const k = key({ tpm: 1000, dailyBudgetUsd: 1 });
    const r = await reserve(limiter, k, amounts(900, 0.9), DEFAULTS);
    await expect(reserve(limiter, k, amounts(100, 0.2), DEFAULTS)).rejects.toBeInstanceOf(QuotaExceededError);
    r.settle(amounts(100, 0.1));
    await flush();
    await expect(reserve(limiter, k, amounts(800, 0.8), DEFAULTS)).resolves.toBeDefined();
    await expect(reserve(limiter, k, amounts(1, 0.2), DEFAULTS)).rejects.toBeInstanceOf(QuotaExceededError);
  });
});
