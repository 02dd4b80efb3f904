import { BudgetSourceError } from '../../../app/stores/errors';
import { randomBytes, randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { planCheck } from '../../../app/stores/limiter-plan';
import { createRedisLimiter } from '../../../app/stores/limiter-redis';
import type { LimitCheck } from '../../../app/stores/types';
import { createUsageQuery } from '../../../app/stores/usage-query';
import { createUsageRecorder } from '../../../app/stores/usage-recorder';
import type { BudgetThresholdEvent } from '../../../app/stores/types';
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

describeLimiterBehaviour('redis', (now, onBudgetThreshold) => createRedisLimiter({ redis, prefix, now, onBudgetThreshold }));

/** The Redis names of a check's TATs and counters, as the limiter lays them out. */
function names(check: LimitCheck, nowMs = Date.now()) {
  const plan = planCheck(prefix, check, nowMs);
  return { req: plan.rates[0].name, tok: plan.rates[1].name, counters: plan.counters.map((c) => c.name) };
}

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
    await limiter.reconcile({ check: r, tokens: 2, costUsd: 0 });
    expect((await limiter.check(r)).remainingRequests).toBe(0);
  });

  it('gives every key a TTL, so idle keys vanish', async () => {
    const limiter = createRedisLimiter({ redis, prefix });
    const keyId = randomUUID();
    const check = { keyId, rpm: 60, tpm: 1000, budget: 5000, tokens: 100 };
    await limiter.check(check);
    const now = Date.now();
    const { req, tok, counters: [budget] } = names(check, now);
    expect(await redis.pttl(req)).toBeGreaterThan(1000);
    expect(await redis.pttl(req)).toBeLessThanOrEqual(2000);
    expect(await redis.pttl(tok)).toBeGreaterThan(6000);
    expect(await redis.pttl(tok)).toBeLessThanOrEqual(7000);
    const nextMonth = Date.UTC(new Date(now).getUTCFullYear(), new Date(now).getUTCMonth() + 1, 1);
    const budgetTtl = await redis.pttl(budget);
    expect(budgetTtl).toBeGreaterThan(nextMonth - now);
    expect(budgetTtl).toBeLessThanOrEqual(nextMonth - now + 86_400_000);
    expect(await redis.hget(budget, 'used')).toBe('100');
  });

  it('carries a reconcile with the key\'s next check: one script call per request', async () => {
    const limiter = createRedisLimiter({ redis, prefix, reconcileFlushMs: 60_000 });
    const r = { keyId: randomUUID(), rpm: 100, tpm: 1000, budget: null, tokens: 600 };
    const evalsha = jest.spyOn(redis, 'evalsha');
    try {
      expect((await limiter.check(r)).allowed).toBe(true);
      await limiter.reconcile({ check: r, tokens: 100, costUsd: 0 });
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
    const check = { keyId, rpm: 100, tpm: 1000, budget: null, tokens: 600 };
    const { tok } = names(check);
    const limiter = createRedisLimiter({ redis, prefix, reconcileFlushMs: 20 });
    await limiter.check(check);
    const reserved = Number(await redis.get(tok));
    await limiter.reconcile({ check, tokens: 100, costUsd: 0 });
    for (let i = 0; i < 100 && Number(await redis.get(tok)) === reserved; i++) await new Promise((r) => setTimeout(r, 10));
    expect(reserved - Number(await redis.get(tok))).toBe(30_000_000); // 500 tokens at tpm=1000

    const idle = createRedisLimiter({ redis, prefix, reconcileFlushMs: 60_000 });
    await idle.reconcile({ check: { ...check, tokens: 100 }, tokens: 200, costUsd: 0 });
    await idle.close();
    expect(Number(await redis.get(tok)) - (reserved - 30_000_000)).toBe(6_000_000);
    await limiter.close();
  });

  it('does not recreate a missing budget counter on reconcile (it would have no TTL)', async () => {
    const limiter = createRedisLimiter({ redis, prefix });
    const check = { keyId: randomUUID(), rpm: 10, tpm: 1000, budget: 5000, tokens: 10, costUsd: 0.01, dailyBudgetUsd: 1 };
    await limiter.reconcile({ check, tokens: 500, costUsd: 0.5 });
    await limiter.close(); // writes the queued reconcile
    for (const counter of names(check).counters) expect(await redis.exists(counter)).toBe(0);
  });
});

describe('redis limiter: dollar budgets and teams across replicas', () => {
  const team = (over = {}) => ({ id: randomUUID(), rpm: null, tpm: null, dailyBudgetUsd: null, monthlyBudgetUsd: null, ...over });

  it('holds a dollar budget across two clients: 20 simultaneous $0.001 requests against $0.01 → exactly 10', async () => {
    const other = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 0 });
    try {
      const a = createRedisLimiter({ redis, prefix });
      const b = createRedisLimiter({ redis: other, prefix });
      const tm = team({ dailyBudgetUsd: 0.01 });
      const k1 = { keyId: randomUUID(), rpm: 1000, tpm: 1_000_000, budget: null, tokens: 10, costUsd: 0.001, team: tm };
      const k2 = { ...k1, keyId: randomUUID() };
      const decisions = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).check(i % 3 ? k1 : k2)));
      expect(decisions.filter((d) => d.allowed)).toHaveLength(10);
      expect(decisions.find((d) => !d.allowed)).toMatchObject({ refusedBy: 'budget', refusedScope: 'team' });
    } finally {
      await other.quit();
    }
  });

  it('checks key and team limits and budgets in one script call, all in the team\'s cluster slot', async () => {
    const limiter = createRedisLimiter({ redis, prefix, reconcileFlushMs: 60_000 });
    const tm = team({ rpm: 50, tpm: 50_000, dailyBudgetUsd: 5, monthlyBudgetUsd: 50 });
    const check = { keyId: randomUUID(), rpm: 10, tpm: 1000, budget: 10_000, tokens: 100, costUsd: 0.01, dailyBudgetUsd: 1, monthlyBudgetUsd: 10, team: tm };
    const plan = planCheck(prefix, check, Date.now());
    expect(plan.rates).toHaveLength(4);
    expect(plan.counters).toHaveLength(5);
    for (const name of [...plan.rates, ...plan.counters].map((x) => x.name)) expect(name).toContain(`{t:${tm.id}}`);
    const evalsha = jest.spyOn(redis, 'evalsha');
    try {
      const d = await limiter.check(check);
      expect(d.allowed).toBe(true);
      await limiter.reconcile({ check, periods: d.periods, tokens: 50, costUsd: 0.002 });
      expect((await limiter.check(check)).allowed).toBe(true);
      expect(evalsha).toHaveBeenCalledTimes(2);
      const [keyDay] = plan.counters.filter((c) => c.unit === 'usd' && c.scope === 'key' && c.period === 'day');
      // $0.01 reserved twice, the first settled at $0.002: used 12000 µ$, spent 2000 µ$.
      expect(await redis.hgetall(keyDay.name)).toEqual({ used: '12000', spent: '2000' });
    } finally {
      evalsha.mockRestore();
      await limiter.close();
    }
  });

  it('reports a crossing on exactly one replica, however many settle at once', async () => {
    const seen: BudgetThresholdEvent[] = [];
    const other = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 0 });
    const limiters = [redis, other, redis, other].map((r) => createRedisLimiter({ redis: r, prefix, reconcileFlushMs: 5, onBudgetThreshold: (e) => seen.push(e) }));
    try {
      const check = { keyId: randomUUID(), rpm: 1000, tpm: 1_000_000, budget: null, tokens: 1, costUsd: 0.1, monthlyBudgetUsd: 1 };
      const reservations = await Promise.all(Array.from({ length: 10 }, (_, i) => limiters[i % 4].check(check)));
      expect(reservations.every((d) => d.allowed)).toBe(true);
      await Promise.all(reservations.map((d, i) => limiters[i % 4].reconcile({ check, periods: d.periods, tokens: 1, costUsd: 0.1 })));
      await Promise.all(limiters.map((l) => l.close()));
      expect(seen.map((e) => e.percent).sort()).toEqual([100, 80]);
      expect(seen.find((e) => e.percent === 100)).toEqual({ scope: 'key', id: check.keyId, period: 'month', percent: 100, spent_usd: 1, budget_usd: 1 });
    } finally {
      await other.quit();
    }
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
      loadUsage: async (c) => {
        loads.push(c.id);
        return query.monthTokens(c.id, c.start);
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
    const [budgetKey] = names(r).counters;
    expect(await redis.hget(budgetKey, 'used')).toBe('1000');

    // Redis loses the counter (restart, eviction): the next check seeds again, now with more usage.
    await redis.del(budgetKey);
    await insertUsage(keyId, [[50, 0, now]]);
    expect((await limiter.check({ ...r, tokens: 49 })).allowed).toBe(true);
    expect(await redis.hget(budgetKey, 'used')).toBe('999');
    expect(await limiter.check({ ...r, tokens: 2 })).toMatchObject({ allowed: false, refusedBy: 'budget' });
    expect(loads).toHaveLength(2);
  });

  it('re-seeds a lost dollar counter from the rollup, and the budget still holds', async () => {
    const query = createUsageQuery({ db: t.db });
    const recorder = createUsageRecorder({ db: t.db, onError: (e) => { throw e; }, onDropped: () => undefined });
    const teamId = randomUUID();
    const keyId = randomUUID();
    for (const cost of [0.004, 0.003]) {
      recorder.record({
        keyId, teamId, model: 'gpt-4o', promptTokens: 1, completionTokens: 1, cachedInputTokens: 0, cacheWriteTokens: 0,
        reasoningTokens: 0, costUsd: cost, estimated: false, cached: false, status: 200, upstreamMs: 1, totalMs: 1,
        requestId: randomUUID(), createdAt: new Date(),
      });
    }
    await recorder.close();
    const limiter = createRedisLimiter({
      redis,
      prefix,
      loadUsage: (c) => (c.unit === 'tokens' ? query.monthTokens(c.id, c.start) : query.spendSince(c.scope, c.id, c.start)),
    });
    const tm = { id: teamId, rpm: null, tpm: null, dailyBudgetUsd: null, monthlyBudgetUsd: 0.01 };
    const check = { keyId, rpm: 100, tpm: 100_000, budget: null, tokens: 1, costUsd: 0.002, team: tm };
    expect((await limiter.check(check)).allowed).toBe(true); // 0.007 spent + 0.002
    expect(await limiter.check(check)).toMatchObject({ allowed: false, refusedBy: 'budget', refusedScope: 'team' });
    const [counter] = planCheck(prefix, check, Date.now()).counters;
    expect(await redis.hgetall(counter.name)).toEqual({ used: '9000', spent: '7000' });
    await redis.del(counter.name); // Redis lost it (flush, failover)
    expect((await limiter.check({ ...check, costUsd: 0.003 })).allowed).toBe(true);
    expect(await limiter.check({ ...check, costUsd: 0.001 })).toMatchObject({ allowed: false, refusedBy: 'budget' });
  });

  it('fails the check when the seed cannot be read (the fail-open wrapper decides what then)', async () => {
    const onReseedFailed = jest.fn();
    const limiter = createRedisLimiter({
      redis,
      prefix,
      loadUsage: async () => {
        throw new Error('postgres down');
      },
      onReseedFailed,
    });
    const err = await limiter.check({ keyId: randomUUID(), rpm: 10, tpm: 1000, budget: 100, tokens: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BudgetSourceError);
    expect((err as Error).cause).toEqual(new Error('postgres down'));
    expect(onReseedFailed).toHaveBeenCalledWith(new Error('postgres down'));
  });
});
