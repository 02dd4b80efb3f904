import { randomUUID } from 'node:crypto';
import type { BudgetThresholdEvent, LimitCheck, RateLimiter, TeamLimits } from '../../../app/stores/types';

/** Builds a limiter reading the suite's clock (milliseconds since the epoch), reporting budget crossings. */
export type MakeLimiter = (now: () => number, onBudgetThreshold: (e: BudgetThresholdEvent) => void) => RateLimiter;

/**
 * The behaviour every RateLimiter shares, run against the Redis and the in-process one. Time is
 * injected, so refills are tested without sleeping.
 */
export function describeLimiterBehaviour(name: string, makeLimiter: MakeLimiter): void {
  describe(`${name} limiter behaviour`, () => {
    // Mid-month, far from any real "now", so nothing depends on the wall clock.
    const start = Date.UTC(2031, 4, 15, 12, 0, 0);
    let t = start;
    const now = () => t;
    let limiter: RateLimiter;
    let events: BudgetThresholdEvent[];
    beforeEach(() => {
      t = start;
      events = [];
      limiter = makeLimiter(now, (e) => events.push(e));
    });
    afterEach(() => limiter.close());

    const req = (over: Partial<LimitCheck> = {}): LimitCheck => ({
      keyId: randomUUID(),
      rpm: 5,
      tpm: 100_000,
      budget: null,
      tokens: 10,
      ...over,
    });
    const burst = async (r: LimitCheck, n: number) => Promise.all(Array.from({ length: n }, () => limiter.check(r)));

    it('lets exactly rpm of a simultaneous burst through', async () => {
      const decisions = await burst(req(), 8);
      expect(decisions.filter((d) => d.allowed)).toHaveLength(5);
      const refused = decisions.filter((d) => !d.allowed);
      expect(refused).toHaveLength(3);
      for (const d of refused) expect(d.refusedBy).toBe('requests');
    });

    it('fills every field of a decision', async () => {
      const r = req({ rpm: 5, tpm: 1000, tokens: 100 });
      const first = await limiter.check(r);
      expect(first).toEqual({
        allowed: true,
        limitRequests: 5,
        remainingRequests: 4,
        resetRequestsMs: 12_000,
        limitTokens: 1000,
        remainingTokens: 900,
        resetTokensMs: 6_000,
        retryAfterMs: 0,
        periods: { day: '2031-05-15', month: '2031-05' },
      });
      const second = await limiter.check(r);
      expect(second.remainingRequests).toBe(3);
      expect(second.remainingTokens).toBe(800);
      expect(second.resetRequestsMs).toBe(24_000);
      await burst(r, 3);
      const refused = await limiter.check(r);
      expect(refused).toMatchObject({ allowed: false, refusedBy: 'requests', remainingRequests: 0, resetRequestsMs: 60_000 });
      expect(refused.retryAfterMs).toBe(12_000);
      expect(refused.resetTokensMs).toBeGreaterThan(0);
    });

    it('refills evenly as time passes', async () => {
      const r = req({ rpm: 5 });
      await burst(r, 5);
      expect((await limiter.check(r)).allowed).toBe(false);
      t += 11_999;
      expect((await limiter.check(r)).allowed).toBe(false);
      t += 1;
      expect((await limiter.check(r)).allowed).toBe(true);
      expect((await limiter.check(r)).allowed).toBe(false);
      t += 60_000;
      const again = await burst(r, 6);
      expect(again.filter((d) => d.allowed)).toHaveLength(5);
    });

    it('counts every request exactly at limits that do not divide a minute', async () => {
      const decisions = await burst(req({ rpm: 7 }), 9);
      expect(decisions.filter((d) => d.allowed)).toHaveLength(7);
    });

    it('reserves tokens against tpm and reconcile gives the unused ones back', async () => {
      const r = req({ rpm: 100, tpm: 1000, tokens: 600 });
      expect((await limiter.check(r)).allowed).toBe(true);
      const refused = await limiter.check(r);
      expect(refused).toMatchObject({ allowed: false, refusedBy: 'tokens', remainingTokens: 400 });
      expect(refused.retryAfterMs).toBe(12_000);
      await limiter.reconcile({ check: r, tokens: 100, costUsd: 0 });
      const after = await limiter.check(r);
      expect(after).toMatchObject({ allowed: true, remainingTokens: 300 });
    });

    it('reconcile charges usage beyond the reservation', async () => {
      const r = req({ rpm: 100, tpm: 1000, tokens: 100 });
      await limiter.check(r);
      await limiter.reconcile({ check: r, tokens: 900, costUsd: 0 });
      const refused = await limiter.check({ ...r, tokens: 101 });
      expect(refused).toMatchObject({ allowed: false, refusedBy: 'tokens', remainingTokens: 100 });
      expect((await limiter.check(r)).allowed).toBe(true);
    });

    it('refuses a request larger than the whole tpm, even on a fresh key, and reserves nothing', async () => {
      const r = req({ rpm: 5, tpm: 1000, tokens: 1001 });
      const d = await limiter.check(r);
      expect(d).toMatchObject({ allowed: false, refusedBy: 'tokens', remainingRequests: 5, remainingTokens: 1000 });
      expect(d.retryAfterMs).toBe(60_000);
      const fits = await limiter.check({ ...r, tokens: 1000 });
      expect(fits).toMatchObject({ allowed: true, remainingRequests: 4, remainingTokens: 0 });
    });

    it('a refused request reserves nothing', async () => {
      const r = req({ rpm: 2, tpm: 1000, tokens: 900 });
      expect((await limiter.check(r)).allowed).toBe(true);
      for (let i = 0; i < 5; i++) expect((await limiter.check({ ...r, tokens: 200 })).refusedBy).toBe('tokens');
      const d = await limiter.check({ ...r, tokens: 100 });
      expect(d).toMatchObject({ allowed: true, remainingRequests: 0, remainingTokens: 0 });
      expect((await limiter.check({ ...r, tokens: 0 })).refusedBy).toBe('requests');
    });

    it('refuses with refusedBy budget once the month is spent, and starts again next month', async () => {
      const r = req({ rpm: 100, tpm: 100_000, budget: 1000, tokens: 400 });
      expect((await limiter.check(r)).allowed).toBe(true);
      expect((await limiter.check(r)).allowed).toBe(true);
      const refused = await limiter.check(r);
      expect(refused).toMatchObject({ allowed: false, refusedBy: 'budget' });
      // Waiting means waiting for 1 June 2031, 00:00 UTC.
      expect(refused.retryAfterMs).toBe(Date.UTC(2031, 5, 1) - t);
      // Smaller requests that still fit are served; the budget is spent exactly.
      expect((await limiter.check({ ...r, tokens: 200 })).allowed).toBe(true);
      expect((await limiter.check({ ...r, tokens: 1 })).refusedBy).toBe('budget');
      // Reconcile gives back unused reservation to the budget as well.
      await limiter.reconcile({ check: r, tokens: 100, costUsd: 0 });
      expect((await limiter.check({ ...r, tokens: 300 })).allowed).toBe(true);
      expect((await limiter.check({ ...r, tokens: 1 })).refusedBy).toBe('budget');
      t = Date.UTC(2031, 5, 1, 0, 0, 1);
      expect((await limiter.check(r)).allowed).toBe(true);
    });

    it('names the budget first when several limits refuse, and waits for the longest', async () => {
      const r = req({ rpm: 1, tpm: 100_000, budget: 100, tokens: 100 });
      expect((await limiter.check(r)).allowed).toBe(true);
      const d = await limiter.check(r);
      expect(d.refusedBy).toBe('budget');
      expect(d.retryAfterMs).toBe(Date.UTC(2031, 5, 1) - t);
    });

    it('keeps keys apart', async () => {
      const a = req({ rpm: 1 });
      const b = req({ rpm: 1 });
      expect((await limiter.check(a)).allowed).toBe(true);
      expect((await limiter.check(b)).allowed).toBe(true);
      expect((await limiter.check(a)).allowed).toBe(false);
    });

    it('rejects limits that are not positive numbers', async () => {
      await expect(limiter.check(req({ rpm: 0 }))).rejects.toThrow(/rpm must be a positive number/);
      await expect(limiter.check(req({ tpm: Number.NaN }))).rejects.toThrow(/tpm must be a positive number/);
    });

    const team = (over: Partial<TeamLimits> = {}): TeamLimits => ({
      id: randomUUID(),
      rpm: null,
      tpm: null,
      dailyBudgetUsd: null,
      monthlyBudgetUsd: null,
      ...over,
    });

    it("holds a team's rpm across its keys, and says the team refused", async () => {
      const tm = team({ rpm: 3 });
      const a = req({ rpm: 100, team: tm });
      const b = req({ rpm: 100, team: tm });
      const decisions = await Promise.all([a, b, a, b, a, b].map((r) => limiter.check(r)));
      expect(decisions.filter((d) => d.allowed)).toHaveLength(3);
      const refused = decisions.find((d) => !d.allowed)!;
      expect(refused).toMatchObject({ refusedBy: 'requests', refusedScope: 'team', limitRequests: 3, remainingRequests: 0 });
      // Headers show the tighter of key and team.
      expect(decisions[0]).toMatchObject({ allowed: true, limitRequests: 3, remainingRequests: 2 });
    });

    it("holds a team's tpm across its keys; a key's own tighter limit still applies", async () => {
      const tm = team({ tpm: 1000 });
      expect((await limiter.check(req({ rpm: 100, tpm: 100_000, tokens: 600, team: tm }))).allowed).toBe(true);
      const other = await limiter.check(req({ rpm: 100, tpm: 100_000, tokens: 600, team: tm }));
      expect(other).toMatchObject({ allowed: false, refusedBy: 'tokens', refusedScope: 'team', limitTokens: 1000, remainingTokens: 400 });
      const own = await limiter.check(req({ rpm: 100, tpm: 100, tokens: 200, team: tm }));
      expect(own).toMatchObject({ allowed: false, refusedBy: 'tokens', refusedScope: 'key' });
    });

    it('reserves dollars against a daily budget, refuses until the next UTC day, and settles to the actual cost', async () => {
      const r = req({ rpm: 100, costUsd: 0.004, dailyBudgetUsd: 0.01 });
      const first = await limiter.check(r);
      expect(first.allowed).toBe(true);
      expect((await limiter.check(r)).allowed).toBe(true);
      const refused = await limiter.check(r);
      expect(refused).toMatchObject({
        allowed: false,
        refusedBy: 'budget',
        refusedScope: 'key',
        refusedBudget: { period: 'day', unit: 'usd', limit: 0.01, resetsAt: new Date(Date.UTC(2031, 4, 16)) },
      });
      expect(refused.retryAfterMs).toBe(Date.UTC(2031, 4, 16) - t);
      // The first two really cost $0.001 each: $0.006 comes back, one more $0.004 fits, then not.
      await limiter.reconcile({ check: r, periods: first.periods, tokens: 10, costUsd: 0.001 });
      await limiter.reconcile({ check: r, periods: first.periods, tokens: 10, costUsd: 0.001 });
      expect((await limiter.check(r)).allowed).toBe(true);
      expect((await limiter.check(r)).allowed).toBe(true);
      expect((await limiter.check(r)).refusedBy).toBe('budget');
      t = Date.UTC(2031, 4, 16, 0, 0, 1);
      expect((await limiter.check(r)).allowed).toBe(true);
    });

    it("shares a team's monthly budget between its keys and names the longest wait", async () => {
      const tm = team({ monthlyBudgetUsd: 1, dailyBudgetUsd: 1 });
      const a = req({ rpm: 100, costUsd: 0.6, team: tm });
      const b = req({ rpm: 100, costUsd: 0.6, team: tm });
      expect((await limiter.check(a)).allowed).toBe(true);
      const d = await limiter.check(b);
      expect(d).toMatchObject({ allowed: false, refusedBy: 'budget', refusedScope: 'team', refusedBudget: { period: 'month', unit: 'usd', limit: 1 } });
      expect(d.retryAfterMs).toBe(Date.UTC(2031, 5, 1) - t);
      // A request of an unpriced model reserves no dollars: it passes while the budget is not spent.
      expect((await limiter.check({ ...b, costUsd: 0 })).allowed).toBe(true);
    });

    it('refuses even a free request once a dollar budget is fully spent', async () => {
      const r = req({ rpm: 100, costUsd: 0.5, monthlyBudgetUsd: 0.5 });
      const d = await limiter.check(r);
      await limiter.reconcile({ check: r, periods: d.periods, tokens: 1, costUsd: 0.5 });
      expect(await limiter.check({ ...r, costUsd: 0 })).toMatchObject({ allowed: false, refusedBy: 'budget' });
    });

    it('reports 80 % and 100 % of settled spend once each, with the exact log fields', async () => {
      const tm = team({ monthlyBudgetUsd: 1 });
      const r = req({ rpm: 100, costUsd: 0.5, dailyBudgetUsd: 1, team: tm });
      const settle = async (usd: number) => {
        const d = await limiter.check({ ...r, costUsd: usd });
        expect(d.allowed).toBe(true);
        await limiter.reconcile({ check: { ...r, costUsd: usd }, periods: d.periods, tokens: 1, costUsd: usd });
        await limiter.check({ ...r, costUsd: 0 }); // carries the settle (Redis) or just looks (memory)
      };
      await settle(0.5);
      expect(events).toEqual([]);
      await settle(0.3);
      expect(events).toEqual(
        expect.arrayContaining([
          { scope: 'key', id: r.keyId, period: 'day', percent: 80, spent_usd: 0.8, budget_usd: 1 },
          { scope: 'team', id: tm.id, period: 'month', percent: 80, spent_usd: 0.8, budget_usd: 1 },
        ]),
      );
      expect(events).toHaveLength(2);
      await settle(0.1);
      expect(events).toHaveLength(2);
      await settle(0.1);
      expect(events.slice(2)).toEqual(
        expect.arrayContaining([
          { scope: 'key', id: r.keyId, period: 'day', percent: 100, spent_usd: 1, budget_usd: 1 },
          { scope: 'team', id: tm.id, period: 'month', percent: 100, spent_usd: 1, budget_usd: 1 },
        ]),
      );
      expect(events).toHaveLength(4);
    });

    it('settles into the day the reservation was made in', async () => {
      const r = req({ rpm: 100, costUsd: 0.009, dailyBudgetUsd: 0.01 });
      t = Date.UTC(2031, 4, 15, 23, 59, 59);
      const d = await limiter.check(r);
      t = Date.UTC(2031, 4, 16, 0, 0, 1);
      // The new day starts clean; the old day's settle does not land in it.
      await limiter.reconcile({ check: r, periods: d.periods, tokens: 1, costUsd: 0.009 });
      expect((await limiter.check(r)).allowed).toBe(true);
      expect((await limiter.check(r)).refusedBy).toBe('budget');
    });

    it('rejects negative dollar amounts and team limits that are not positive', async () => {
      await expect(limiter.check(req({ costUsd: -1 }))).rejects.toThrow(/costUsd must be >= 0/);
      await expect(limiter.check(req({ team: team({ rpm: 0 }) }))).rejects.toThrow(/team rpm/);
    });
  });
}
