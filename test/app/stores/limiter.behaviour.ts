import { randomUUID } from 'node:crypto';
import type { LimitCheck, RateLimiter } from '../../../app/stores/types';

/** Builds a limiter reading the suite's clock (milliseconds since the epoch). */
export type MakeLimiter = (now: () => number) => RateLimiter;

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
    beforeEach(() => {
      t = start;
      limiter = makeLimiter(now);
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
      await limiter.reconcile({ keyId: r.keyId, tpm: 1000, budget: null, reserved: 600, actual: 100 });
      const after = await limiter.check(r);
      expect(after).toMatchObject({ allowed: true, remainingTokens: 300 });
    });

    it('reconcile charges usage beyond the reservation', async () => {
      const r = req({ rpm: 100, tpm: 1000, tokens: 100 });
      await limiter.check(r);
      await limiter.reconcile({ keyId: r.keyId, tpm: 1000, budget: null, reserved: 100, actual: 900 });
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
      await limiter.reconcile({ keyId: r.keyId, tpm: r.tpm, budget: 1000, reserved: 400, actual: 100 });
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
  });
}
