import { randomUUID } from 'node:crypto';
import { createMemoryLimiter } from '../../../app/stores/limiter-memory';
import { describeLimiterBehaviour } from './limiter.behaviour';

describeLimiterBehaviour('memory', (now) => createMemoryLimiter({ now }));

describe('memory limiter', () => {
  it('seeds a monthly budget from the usage table once, however many checks race', async () => {
    const loadMonthUsage = jest.fn(async () => 900);
    const limiter = createMemoryLimiter({ loadMonthUsage });
    const r = { keyId: randomUUID(), rpm: 100, tpm: 100_000, budget: 1000, tokens: 50 };
    const [a, b, c] = await Promise.all([limiter.check(r), limiter.check(r), limiter.check(r)]);
    expect([a.allowed, b.allowed, c.allowed]).toEqual([true, true, false]);
    expect(c.refusedBy).toBe('budget');
    expect(loadMonthUsage).toHaveBeenCalledTimes(1);
    const [, monthStart] = loadMonthUsage.mock.calls[0] as unknown as [string, Date];
    expect(monthStart.getUTCDate()).toBe(1);
    expect(monthStart.getUTCHours()).toBe(0);
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
