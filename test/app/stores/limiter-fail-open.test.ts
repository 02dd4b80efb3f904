import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { BudgetSourceError, StoreUnavailableError } from '../../../app/stores/errors';
import { createFailOpenLimiter } from '../../../app/stores/limiter-fail-open';
import { createMemoryLimiter } from '../../../app/stores/limiter-memory';
import { createRedisLimiter } from '../../../app/stores/limiter-redis';
import type { RateLimiter } from '../../../app/stores/types';

const req = () => ({ keyId: randomUUID(), rpm: 2, tpm: 1000, budget: null, tokens: 10 });

describe('fail-open limiter', () => {
  let dead: Redis;
  beforeAll(() => {
    // Nothing listens on port 1: the production client settings make every command fail at once.
    dead = new Redis({
      host: '127.0.0.1',
      port: 1,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: 100,
      lazyConnect: true,
      disconnectTimeout: 20,
    });
    dead.on('error', () => undefined);
  });
  afterAll(() => dead.disconnect());

  it('answers from the fallback within ~200 ms when Redis is unreachable, marked degraded', async () => {
    const errors: unknown[] = [];
    const limiter = createFailOpenLimiter({
      primary: createRedisLimiter({ redis: dead, prefix: 'test:dead:' }),
      fallback: createMemoryLimiter(),
      failOpen: true,
      onFallback: (err) => errors.push(err),
      // Every call goes to Redis, to show each one fails fast on its own.
      cooldownMs: 0,
    });
    const r = req();
    const started = Date.now();
    const decisions = [await limiter.check(r), await limiter.check(r), await limiter.check(r)];
    expect(Date.now() - started).toBeLessThan(250);
    expect(decisions.map((d) => d.allowed)).toEqual([true, true, false]);
    for (const d of decisions) expect(d.degraded).toBe(true);
    expect(errors).toHaveLength(3);
    const reconciled = limiter.reconcile({ check: r, tokens: 5, costUsd: 0 });
    await expect(reconciled).resolves.toBeUndefined();
    expect(errors).toHaveLength(4);
    await expect(limiter.ping()).rejects.toThrow();
  });

  it('throws StoreUnavailableError when not failing open', async () => {
    const limiter = createFailOpenLimiter({
      primary: createRedisLimiter({ redis: dead, prefix: 'test:dead:' }),
      fallback: createMemoryLimiter(),
      failOpen: false,
      onFallback: () => undefined,
    });
    const err = await limiter.check(req()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreUnavailableError);
    expect((err as Error).message).toBe('rate limiter unavailable');
  });

  it('never waits longer than its deadline on a primary that hangs', async () => {
    const hanging: RateLimiter = {
      check: () => new Promise(() => undefined),
      reconcile: () => new Promise(() => undefined),
      ping: () => new Promise(() => undefined),
      close: async () => undefined,
    };
    const onFallback = jest.fn();
    const fallback = createMemoryLimiter();
    const limiter = createFailOpenLimiter({ primary: hanging, fallback, failOpen: true, onFallback, timeoutMs: 50 });
    const started = Date.now();
    const d = await limiter.check(req());
    expect(Date.now() - started).toBeLessThan(150);
    expect(d).toMatchObject({ allowed: true, degraded: true });
    expect(onFallback.mock.calls[0][0]).toMatchObject({ name: 'StoreTimeoutError' });
    // Within the cooldown the hanging primary is not asked again: no second 50 ms wait.
    const again = Date.now();
    await limiter.check(req());
    expect(Date.now() - again).toBeLessThan(20);
  });

  it('passes a caller error through without treating it as an outage', async () => {
    const onFallback = jest.fn();
    const limiter = createFailOpenLimiter({
      primary: createMemoryLimiter(),
      fallback: createMemoryLimiter(),
      failOpen: true,
      onFallback,
    });
    await expect(limiter.check({ ...req(), rpm: 0 })).rejects.toThrow(/rpm must be a positive number/);
    expect(onFallback).not.toHaveBeenCalled();
    expect((await limiter.check(req())).degraded).toBeUndefined();
  });

  it('goes back to the primary once it answers again', async () => {
    let t = 0;
    let down = true;
    const primary = createMemoryLimiter();
    const flaky: RateLimiter = {
      ...primary,
      check: (r) => (down ? Promise.reject(new Error('ECONNREFUSED')) : primary.check(r)),
    };
    const limiter = createFailOpenLimiter({
      primary: flaky,
      fallback: createMemoryLimiter(),
      failOpen: true,
      onFallback: () => undefined,
      now: () => t,
    });
    expect((await limiter.check(req())).degraded).toBe(true);
    down = false;
    t = 500;
    expect((await limiter.check(req())).degraded).toBe(true);
    t = 1001;
    expect((await limiter.check(req())).degraded).toBeUndefined();
  });
});

describe('fail-open limiter, when Postgres (not Redis) fails a budget re-seed', () => {
  it('hands the error to the caller and keeps using Redis for every other key', async () => {
    const redis = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: 0, lazyConnect: true });
    try {
      const fallbacks: unknown[] = [];
      const limiter = createFailOpenLimiter({
        primary: createRedisLimiter({
          redis,
          prefix: `test:budget-source:${randomUUID()}:`,
          loadUsage: () => Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })),
        }),
        fallback: createMemoryLimiter(),
        failOpen: true,
        onFallback: (err) => fallbacks.push(err),
      });
      const budgeted = { ...req(), budget: 1000 };
      await expect(limiter.check(budgeted)).rejects.toBeInstanceOf(BudgetSourceError);
      // No cooldown was opened: the next key is decided by Redis, not the fallback.
      const other = await limiter.check(req());
      expect(other.degraded).toBeUndefined();
      expect(fallbacks).toHaveLength(0);
    } finally {
      redis.disconnect();
    }
  });
});
