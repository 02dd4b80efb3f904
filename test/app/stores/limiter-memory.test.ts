import { randomUUID } from 'node:crypto';
import { BudgetSourceError } from '../../../app/stores/errors';
import { createMemoryLimiter } from '../../../app/stores/limiter-memory';
import { describeLimiterBehaviour } from './limiter.behaviour';

describeLimiterBehaviour('memory', (now, onBudgetThreshold) => createMemoryLimiter({ now, onBudgetThreshold }));

describe('memory limiter', () => {
  it('seeds a monthly budget from the usage table once, however many checks race', async () => {
    const loadUsage = jest.fn(async () => 900);
    const limiter = createMemoryLimiter({ loadUsage });
    const r = { keyId: randomUUID(), rpm: 100, tpm: 100_000, budget: 1000, tokens: 50 };
    const [a, b, c] = await Promise.all([limiter.check(r), limiter.check(r), limiter.check(r)]);
    expect([a.allowed, b.allowed, c.allowed]).toEqual([true, true, false]);
    expect(c.refusedBy).toBe('budget');
    expect(loadUsage).toHaveBeenCalledTimes(1);
    const [source] = loadUsage.mock.calls[0] as unknown as [{ scope: string; id: string; unit: string; start: Date }];
    expect(source).toMatchObject({ scope: 'key', id: r.keyId, unit: 'tokens', period: 'month' });
    expect(source.start.getUTCDate()).toBe(1);
    expect(source.start.getUTCHours()).toBe(0);
  });

  it('seeds dollar budgets of key and team from the usage tables, in USD', async () => {
    const loadUsage = jest.fn(async (c: { scope: string; period: string }) => (c.scope === 'team' && c.period === 'month' ? 0.995 : 0));
    const limiter = createMemoryLimiter({ loadUsage });
    const team = { id: randomUUID(), rpm: null, tpm: null, dailyBudgetUsd: null, monthlyBudgetUsd: 1 };
    const r = { keyId: randomUUID(), rpm: 100, tpm: 100_000, budget: null, tokens: 1, costUsd: 0.004, dailyBudgetUsd: 5, team };
    expect((await limiter.check(r)).allowed).toBe(true);
    expect(await limiter.check({ ...r, costUsd: 0.002 })).toMatchObject({ allowed: false, refusedScope: 'team' });
    expect(loadUsage.mock.calls.map(([c]) => `${c.scope}/${c.period}`).sort()).toEqual(['key/day', 'team/month']);
  });

  it('fails a check whose budget cannot be seeded with BudgetSourceError (a 503), and reports it', async () => {
    const onReseedFailed = jest.fn();
    const limiter = createMemoryLimiter({ loadUsage: async () => Promise.reject(new Error('db down')), onReseedFailed });
    const r = { keyId: randomUUID(), rpm: 100, tpm: 100_000, budget: null, tokens: 1, dailyBudgetUsd: 1 };
    await expect(limiter.check(r)).rejects.toBeInstanceOf(BudgetSourceError);
    expect(onReseedFailed).toHaveBeenCalledWith(new Error('db down'));
    // Keys without budgets need no seed.
    expect((await limiter.check({ ...r, dailyBudgetUsd: null })).allowed).toBe(true);
  });

  it('treats a key idle for a whole window as fresh, swept or not', async () => {
    let t = Date.UTC(2031, 0, 10);
    const limiter = createMemoryLimiter({ now: () => t, sweepEvery: 1 });
    const r = { keyId: randomUUID(), rpm: 1, tpm: 1000, budget: null, tokens: 1 };
    expect((await limiter.check(r)).allowed).toBe(true);
    t += 61_000;
    // The sweep ran before this check; the key starts fresh, exactly as if it had been kept.
    expect(await limiter.check({ ...r, keyId: randomUUID() })).toMatchObject({ allowed: true });
    expect(await limiter.check(r)).toMatchObject({ allowed: true, remainingRequests: 0 });
  });
});
