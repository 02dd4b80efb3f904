import type { CachedAnswer, ResponseCache } from './types';
import { withTimeout } from './with-timeout';

export interface FailSafeCacheOptions {
  cache: ResponseCache;
  /** Called for every failed or timed-out call (count it, log it). Must not throw. */
  onError: (err: unknown, op: 'get' | 'set') => void;
  /** Hard deadline per call. @default 100 */
  timeoutMs?: number;
}

/**
 * A cache that cannot fail a request: a broken get is a miss, a broken set is skipped. `ping`
 * still throws, because readiness must see the outage.
 */
export function createFailSafeCache(opts: FailSafeCacheOptions): ResponseCache {
  const { cache } = opts;
  const timeoutMs = opts.timeoutMs ?? 100;

  function report(err: unknown, op: 'get' | 'set'): void {
    try {
      opts.onError(err, op);
    } catch {
      // Reporting is best effort too.
    }
  }

  return {
    async get(key: string): Promise<CachedAnswer | null> {
      try {
        return await withTimeout(() => cache.get(key), timeoutMs, 'response cache');
      } catch (err) {
        report(err, 'get');
        return null;
      }
    },

    async set(key: string, value: CachedAnswer, ttlSeconds: number): Promise<void> {
      try {
        await withTimeout(() => cache.set(key, value, ttlSeconds), timeoutMs, 'response cache');
      } catch (err) {
        report(err, 'set');
      }
    },

    ping: () => withTimeout(() => cache.ping(), timeoutMs, 'response cache'),
    close: () => cache.close(),
  };
}
