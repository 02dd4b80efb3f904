/**
 * Failed authentication, counted per source address. An address past its allowance is refused
 * before any key lookup or comparison until its window slides past, which caps both guessing
 * (admin keys can be human-chosen) and the database lookups a flood of unknown keys would cost.
 * Memory is bounded: past `maxAddresses` the least recently failing address is forgotten, so a
 * flood from many addresses costs at most that many small entries (and forgets itself).
 */
export interface AuthThrottleOptions {
  /** Failures allowed per address within `windowMs`. */
  maxFailures: number;
  windowMs: number;
  /** Addresses remembered at once. @default 10000 */
  maxAddresses?: number;
  now?: () => number;
}

export interface AuthThrottle {
  /** Seconds the address must wait before trying again (0: go ahead). */
  retryAfter(address: string): number;
  /** Counts one failed attempt from `address`. */
  failed(address: string): void;
  /** Addresses currently remembered. */
  readonly size: number;
}

interface Counter {
  /** Start of the current fixed window. */
  start: number;
  current: number;
  previous: number;
}

export function createAuthThrottle(opts: AuthThrottleOptions): AuthThrottle {
  const now = opts.now ?? Date.now;
  const maxAddresses = opts.maxAddresses ?? 10_000;
  const { windowMs, maxFailures } = opts;
  // Insertion order is recency order (an entry is moved to the end on each failure).
  const counters = new Map<string, Counter>();

  /** Rolls the counter's windows forward to `t`; returns the sliding-window estimate of failures. */
  function weight(c: Counter, t: number): number {
    const elapsed = t - c.start;
    if (elapsed >= 2 * windowMs) {
      c.previous = 0;
      c.current = 0;
      c.start = t - (elapsed % windowMs);
    } else if (elapsed >= windowMs) {
      c.previous = c.current;
      c.current = 0;
      c.start += windowMs;
    }
    // The previous window counts for the part of it that the sliding window still covers.
    return c.current + c.previous * (1 - (t - c.start) / windowMs);
  }

  return {
    retryAfter(address) {
      const c = counters.get(address);
      if (!c) return 0;
      const t = now();
      if (weight(c, t) < maxFailures) return 0;
      // The end of the current window: the earliest the estimate can drop (a client still over
      // then is told again).
      return Math.max(1, Math.ceil((c.start + windowMs - t) / 1000));
    },
    failed(address) {
      const t = now();
      let c = counters.get(address);
      if (c) counters.delete(address);
      else {
        if (counters.size >= maxAddresses) counters.delete(counters.keys().next().value as string);
        c = { start: t, current: 0, previous: 0 };
      }
      weight(c, t);
      c.current++;
      counters.set(address, c);
    },
    get size() {
      return counters.size;
    },
  };
}
