import { StoreUnavailableError, BudgetSourceError } from './errors';
import { validateCheck } from './limiter-math';
import type { LimitCheck, LimitDecision, LimitReconcile, RateLimiter } from './types';
import { withTimeout } from './with-timeout';

export interface FailOpenLimiterOptions {
  /** The shared limiter (Redis). */
  primary: RateLimiter;
  /** Answers while the primary cannot (the in-process limiter). */
  fallback: RateLimiter;
  /** true: serve on the fallback's decisions; false: throw StoreUnavailableError. */
  failOpen: boolean;
  /** Called for every call the primary did not serve (count it, log it). Must not throw. */
  onFallback: (err: unknown) => void;
  /** Hard deadline for one primary call, whatever the client's own timeouts. @default 200 */
  timeoutMs?: number;
  /**
   * After a primary failure, calls skip it for this long, so a black-holed Redis costs one timeout
   * per cooldown rather than one per request. 0 disables. @default 1000
   */
  cooldownMs?: number;
  /** @default Date.now */
  now?: () => number;
}

/**
 * Keeps a Redis outage from stalling or failing requests. Decisions from the fallback say
 * `degraded: true`; while degraded, each process enforces the limits on its own.
 */
export function createFailOpenLimiter(opts: FailOpenLimiterOptions): RateLimiter {
  const { primary, fallback, failOpen } = opts;
  const timeoutMs = opts.timeoutMs ?? 200;
  const cooldownMs = opts.cooldownMs ?? 1000;
  const now = opts.now ?? Date.now;
  let skipUntil = 0;
  let lastError: unknown;
  /** The last primary call failed: reservations are being made on the fallback. */
  let primaryFailing = false;

  function report(err: unknown): void {
    try {
      opts.onFallback(err);
    } catch {
      // A broken metrics callback must not turn a degraded answer into a failed request.
    }
  }

  async function viaPrimary<T>(fn: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false; err: unknown }> {
    if (now() < skipUntil) return { ok: false, err: new StoreUnavailableError('rate limiter', { cause: lastError }) };
    try {
      const value = await withTimeout(fn, timeoutMs, 'rate limiter');
      primaryFailing = false;
      return { ok: true, value };
    } catch (err) {
      primaryFailed(err);
      return { ok: false, err };
    }
  }

  /** The primary failed (or is being skipped): the fallback answers, or the outage is the error. */
  async function checkWithoutPrimary(req: LimitCheck, err: unknown): Promise<LimitDecision> {
    report(err);
    if (!failOpen) {
      throw err instanceof StoreUnavailableError ? err : new StoreUnavailableError('rate limiter', { cause: err });
    }
    return { ...(await fallback.check(req)), degraded: true };
  }

  function primaryFailed(err: unknown): void {
    // Postgres, not Redis, failed: the fallback would need the same read, so the caller gets it.
    if (err instanceof BudgetSourceError) throw err;
    lastError = err;
    primaryFailing = true;
    if (cooldownMs > 0) skipUntil = now() + cooldownMs;
  }

  return {
    // Every request passes here: a plain promise chain, no async frames or result objects on the
    // way through when Redis answers.
    check(req: LimitCheck): Promise<LimitDecision> {
      try {
        // A caller's bad input is not an outage: it must neither fall back nor open the circuit.
        validateCheck(req);
      } catch (err) {
        return Promise.reject(err);
      }
      if (now() < skipUntil) {
        return checkWithoutPrimary(req, new StoreUnavailableError('rate limiter', { cause: lastError }));
      }
      return withTimeout(() => primary.check(req), timeoutMs, 'rate limiter').then(
        (decision) => {
          primaryFailing = false;
          return decision;
        },
        (err: unknown) => {
          primaryFailed(err);
          return checkWithoutPrimary(req, err);
        },
      );
    },

    // Best effort: a lost reconcile only skews one key's window for a minute. The Redis limiter
    // queues reconciles rather than failing them, so while its checks fail the correction goes
    // where the reservation was most likely made: the fallback.
    async reconcile(req: LimitReconcile): Promise<void> {
      const res = primaryFailing
        ? { ok: false as const, err: new StoreUnavailableError('rate limiter', { cause: lastError }) }
        : await viaPrimary(() => primary.reconcile(req));
      if (res.ok) return;
      report(res.err);
      // The reservation being corrected was most likely made on the fallback.
      await fallback.reconcile(req).catch(report);
    },

    // Readiness reports the real state of the shared store, cooldown or not.
    ping: () => withTimeout(() => primary.ping(), timeoutMs, 'rate limiter'),

    async close(): Promise<void> {
      await Promise.allSettled([primary.close(), fallback.close()]);
    },
  };
}
