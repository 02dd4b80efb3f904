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

describe('reserve', () => {
  it('asks the limiter with the default limits for a key that sets none', async () => {
    const limiter = fakeLimiter(ALLOWED);
    const k = key();
    const r = await reserve(limiter, k, 120, DEFAULTS);
    expect(limiter.check).toHaveBeenCalledWith({ keyId: k.id, rpm: 60, tpm: 100_000, budget: null, tokens: 120 });
    expect(r.decision).toBe(ALLOWED);
    expect(r.headers).toEqual(rateLimitHeaders(ALLOWED));
  });

  it("uses the key's own rpm, tpm and budget over the defaults", async () => {
    const limiter = fakeLimiter(ALLOWED);
    const k = key({ rpm: 5, tpm: 700, monthlyTokenBudget: 9000 });
    await reserve(limiter, k, 10, DEFAULTS);
    expect(limiter.check).toHaveBeenCalledWith({ keyId: k.id, rpm: 5, tpm: 700, budget: 9000, tokens: 10 });
  });

  it('settles once with the actual tokens, however often settle is called', async () => {
    const limiter = fakeLimiter(ALLOWED);
    const k = key({ tpm: 700, monthlyTokenBudget: 9000 });
    const r = await reserve(limiter, k, 100, DEFAULTS);
    r.settle(42);
    r.settle(42);
    r.settle(7);
    expect(limiter.reconcile).toHaveBeenCalledTimes(1);
    expect(limiter.reconcile).toHaveBeenCalledWith({ keyId: k.id, tpm: 700, budget: 9000, reserved: 100, actual: 42 });
  });

  it('does not reconcile when the actual tokens equal the reservation', async () => {
    const limiter = fakeLimiter(ALLOWED);
    const r = await reserve(limiter, key(), 100, DEFAULTS);
    r.settle(100);
    r.settle(50);
    expect(limiter.reconcile).not.toHaveBeenCalled();
  });

  it('hands a failed reconcile to onReconcileError instead of throwing', async () => {
    const limiter = fakeLimiter(ALLOWED);
    limiter.reconcile.mockRejectedValueOnce(new Error('redis down'));
    const onError = jest.fn();
    const r = await reserve(limiter, key(), 100, DEFAULTS, onError);
    expect(() => r.settle(0)).not.toThrow();
    await flush();
    expect(onError).toHaveBeenCalledWith(expect.objectContaining({ message: 'redis down' }));
  });

  it.each([
    ['requests', /requests per min \(RPM\): Limit 5/],
    ['tokens', /tokens per min \(TPM\): Limit 700/],
  ] as const)('refuses when %s run out: RateLimitError 429 rate_limit_exceeded', async (by, message) => {
    const limiter = fakeLimiter(refused(by, 2500));
    const err = await reserve(limiter, key({ rpm: 5, tpm: 700 }), 10, DEFAULTS).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RateLimitError);
    expect(err).toMatchObject({ status: 429, type: 'rate_limit_error', code: 'rate_limit_exceeded' });
    expect((err as RateLimitError).message).toMatch(message);
    expect((err as RateLimitError).message).toContain('sk-llm-abcdef');
    expect((err as RateLimitError).headers).toEqual({ ...rateLimitHeaders(refused(by, 2500)), 'retry-after': '3' });
  });

  it.each(['requests', 'tokens', 'budget'] as const)('notes in stats that %s refused the request', async (by) => {
    const stats: { rateLimited?: LimitKind } = {};
    await expect(reserve(fakeLimiter(refused(by, 10)), key(), 1, DEFAULTS, undefined, stats)).rejects.toThrow();
    expect(stats.rateLimited).toBe(by);
  });

  it('leaves stats alone when the request is allowed', async () => {
    const stats: { rateLimited?: LimitKind } = {};
    await reserve(fakeLimiter(ALLOWED), key(), 1, DEFAULTS, undefined, stats);
    expect(stats.rateLimited).toBeUndefined();
  });

  it.each([0, 1, 999])('asks for a retry-after of at least one second (retryAfterMs %p)', async (ms) => {
    const err = (await reserve(fakeLimiter(refused('requests', ms)), key(), 1, DEFAULTS).catch((e: unknown) => e)) as RateLimitError;
    expect(err.headers['retry-after']).toBe('1');
  });

  it('refuses a spent monthly budget with QuotaExceededError (insufficient_quota)', async () => {
    const err = await reserve(fakeLimiter(refused('budget', 86_400_000)), key({ monthlyTokenBudget: 100 }), 10, DEFAULTS).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(QuotaExceededError);
    expect(err).toMatchObject({ status: 429, type: 'insufficient_quota', code: 'insufficient_quota' });
    expect((err as QuotaExceededError).headers['retry-after']).toBe('86400');
  });

  it('enforces a key rpm against the in-process limiter', async () => {
    const t = Date.UTC(2031, 4, 15, 12);
    const limiter = createMemoryLimiter({ now: () => t });
    const k = key({ rpm: 2 });
    const first = await reserve(limiter, k, 10, DEFAULTS);
    expect(first.headers['x-ratelimit-limit-requests']).toBe('2');
    expect(first.headers['x-ratelimit-remaining-requests']).toBe('1');
    await reserve(limiter, k, 10, DEFAULTS);
    const err = (await reserve(limiter, k, 10, DEFAULTS).catch((e: unknown) => e)) as RateLimitError;
    expect(err).toBeInstanceOf(RateLimitError);
    expect(err.headers['x-ratelimit-remaining-requests']).toBe('0');
    expect(Number(err.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    // Another key is unaffected.
    await expect(reserve(limiter, key({ rpm: 2 }), 10, DEFAULTS)).resolves.toBeDefined();
  });

  it('gives tokens back on settle, so a later request fits in the in-process limiter', async () => {
    const t = Date.UTC(2031, 4, 15, 12);
    const limiter = createMemoryLimiter({ now: () => t });
    const k = key({ tpm: 1000 });
    const r = await reserve(limiter, k, 900, DEFAULTS);
    await expect(reserve(limiter, k, 900, DEFAULTS)).rejects.toBeInstanceOf(RateLimitError);
    r.settle(100);
    await flush();
    await expect(reserve(limiter, k, 800, DEFAULTS)).resolves.toBeDefined();
  });
});
