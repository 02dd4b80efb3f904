import { BudgetSourceError } from '../../../app/stores/errors';
import { randomBytes, randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { createRedisLimiter, limiterKeys } from '../../../app/stores/limiter-redis';
import { createUsageQuery } from '../../../app/stores/usage-query';
import { createTestDatabase, TEST_REDIS_URL, type TestDatabase } from '../../support/test-db';
import { describeLimiterBehaviour } from './limiter.behaviour';

const prefix = `test:rl:${randomBytes(6).toString('hex')}:`;
let redis: Redis;

beforeAll(() => {
  redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 0 });
});
afterAll(async () => {
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length) await redis.del(...keys);
  await redis.quit();
});

describeLimiterBehaviour('redis', (now) => createRedisLimiter({ redis, prefix, now }));

describe('redis limiter across replicas', () => {
  it('holds one limit across two clients: 20 simultaneous requests at rpm=10 → exactly 10', async () => {
    const other = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 0 });
    try {
      const a = createRedisLimiter({ redis, prefix });
      const b = createRedisLimiter({ redis: other, prefix });
      const r = { keyId: randomUUID(), rpm: 10, tpm: 100_000, budget: null, tokens: 10 };
      const decisions = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).check(r)));
      expect(decisions.filter((d) => d.allowed)).toHaveLength(10);
    } finally {
      await other.quit();
    }
  });

  it('reloads the script after the server forgot it (EVALSHA → NOSCRIPT → EVAL)', async () => {
    const limiter = createRedisLimiter({ redis, prefix });
    const r = { keyId: randomUUID(), rpm: 2, tpm: 1000, budget: null, tokens: 1 };
    await redis.script('FLUSH');
    expect((await limiter.check(r)).allowed).toBe(true);
    await redis.script('FLUSH');
    await limiter.reconcile({ keyId: r.keyId, tpm: 1000, budget: null, reserved: 1, actual: 2 });
    expect((await limiter.check(r)).remainingRequests).toBe(0);
  });

  it('gives every key a TTL, so idle keys vanish', async () => {
    const limiter = createRedisLimiter({ redis, prefix });
    const keyId = randomUUID();
    await limiter.check({ keyId, rpm: 60, tpm: 1000, budget: 5000, tokens: 100 });
    const now = Date.now();
    const [req, tok, budget] = limiterKeys(prefix, keyId, new Date(now).toISOString().slice(0, 7));
    expect(await redis.pttl(req)).toBeGreaterThan(1000);
    expect(await redis.pttl(req)).toBeLessThanOrEqual(2000);
    expect(await redis.pttl(tok)).toBeGreaterThan(6000);
    expect(await redis.pttl(tok)).toBeLessThanOrEqual(7000);
    const nextMonth = Date.UTC(new Date(now).getUTCFullYear(), new Date(now).getUTCMonth() + 1, 1);
    const budgetTtl = await redis.pttl(budget);
    expect(budgetTtl).toBeGreaterThan(nextMonth - now);
    expect(budgetTtl).toBeLessThanOrEqual(nextMonth - now + 86_400_000);
    expect(await redis.get(budget)).toBe('100');
  });

  it('carries a reconcile with the key\'s next check: one script call per request', async () => {
    const limiter = createRedisLimiter({ redis, prefix, reconcileFlushMs: 60_000 });
    const r = { keyId: randomUUID(), rpm: 100, tpm: 1000, budget: null, tokens: 600 };
    const evalsha = jest.spyOn(redis, 'evalsha');
    try {
      expect((await limiter.check(r)).allowed).toBe(true);
      await limiter.reconcile({ keyId: r.keyId, tpm: 1000, budget: null, reserved: 600, actual: 100 });
      const after = await limiter.check({ ...r, tokens: 100 });
      expect(after).toMatchObject({ allowed: true, remainingTokens: 800 });
      expect(evalsha).toHaveBeenCalledTimes(2);
    } finally {
      evalsha.mockRestore();
      await limiter.close();
    }
  });

  it('writes a reconcile on its own when no check of the key follows, and on close', async () => {
    const keyId = randomUUID();
    const tok = limiterKeys(prefix, keyId, new Date().toISOString().slice(0, 7))[1];
    const limiter = createRedisLimiter({ redis, prefix, reconcileFlushMs: 20 });
    await limiter.check({ keyId, rpm: 100, tpm: 1000, budget: null, tokens: 600 });
    const reserved = Number(await redis.get(tok));
    await limiter.reconcile({ keyId, tpm: 1000, budget: null, reserved: 600, actual: 100 });
    for (let i = 0; i < 100 && Number(await redis.get(tok)) === reserved; i++) await new Promise((r) => setTimeout(r, 10));
    expect(reserved - Number(await redis.get(tok))).toBe(30_000_000); // 500 tokens at tpm=1000

    const idle = createRedisLimiter({ redis, prefix, reconcileFlushMs: 60_000 });
    await idle.reconcile({ keyId, tpm: 1000, budget: null, reserved: 100, actual: 200 });
    await idle.close();
    expect(Number(await redis.get(tok)) - (reserved - 30_000_000)).toBe(6_000_000);
    await limiter.close();
  });

  it('does not recreate a missing budget counter on reconcile (it would have no TTL)', async () => {
    const limiter = createRedisLimiter({ redis, prefix });
    const keyId = randomUUID();
    await limiter.reconcile({ keyId, tpm: 1000, budget: 5000, reserved: 10, actual: 500 });
    await limiter.close(); // writes the queued reconcile
    const budget = limiterKeys(prefix, keyId, new Date().toISOString().slice(0, 7))[2];
    expect(await redis.exists(budget)).toBe(0);
  });
});

describe('redis limiter budget seeding from Postgres', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase();
  });
  afterAll(() => t.drop());

  async function insertUsage(keyId: string, rows: Array<[prompt: number, completion: number, at: Date]>) {
    for (const [p, c, at] of rows) {
      await t.db.query(
        `INSERT INTO usage_records (key_id, model, prompt_tokens, completion_tokens, status, request_id, created_at)
         VALUES ($1, 'gpt-4o', $2, $3, 200, $4, $5)`,
        [keyId, p, c, randomUUID(), at.toISOString()],
      );
    }
  }

  it('seeds a missing counter with the month so far, then refuses past the budget', async () => {
    const query = createUsageQuery({ db: t.db });
    const loads: string[] = [];
    const limiter = createRedisLimiter({
      redis,
      prefix,
      loadMonthUsage: async (keyId, monthStart) => {
        loads.push(keyId);
        return query.monthTokens(keyId, monthStart);
      },
    });
    const keyId = randomUUID();
    const now = new Date();
    const monthStart = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
    // 900 tokens this month; last month's rows do not count.
    await insertUsage(keyId, [
      [300, 200, now],
      [100, 300, monthStart],
      [5000, 5000, new Date(monthStart.getTime() - 1)],
    ]);
    const r = { keyId, rpm: 100, tpm: 100_000, budget: 1000, tokens: 50 };
    const [a, b, c] = await Promise.all([limiter.check(r), limiter.check(r), limiter.check(r)]);
    expect([a.allowed, b.allowed, c.allowed].filter(Boolean)).toHaveLength(2);
    expect([a, b, c].find((d) => !d.allowed)?.refusedBy).toBe('budget');
    expect(loads).toHaveLength(1);
    const budgetKey = limiterKeys(prefix, keyId, now.toISOString().slice(0, 7))[2];
    expect(await redis.get(budgetKey)).toBe('1000');

    // Redis loses the counter (restart, eviction): the next check seeds again, now with more usage.
    await redis.del(budgetKey);
    await insertUsage(keyId, [[50, 0, now]]);
    expect((await limiter.check({ ...r, tokens: 49 })).allowed).toBe(true);
    expect(await redis.get(budgetKey)).toBe('999');
    expect(await limiter.check({ ...r, tokens: 2 })).toMatchObject({ allowed: false, refusedBy: 'budget' });
    expect(loads).toHaveLength(2);
  });

  it('fails the check when the seed cannot be read (the fail-open wrapper decides what then)', async () => {
    const limiter = createRedisLimiter({
      redis,
      prefix,
      loadMonthUsage: async () => {
        throw new Error('postgres down');
      },
    });
    const err = await limiter.check({ keyId: randomUUID(), rpm: 10, tpm: 1000, budget: 100, tokens: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BudgetSourceError);
    expect((err as Error).cause).toEqual(new Error('postgres down'));
  });
});
