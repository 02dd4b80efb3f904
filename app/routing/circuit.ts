/**
 * A circuit per deployment: after repeated failures, or a 429 that says how long to wait, the
 * deployment cools down (open) for that long or `coolDownMs`; then one request probes it
 * (half-open): success closes the circuit, failure opens it again.
 */
export interface CircuitOptions {
  /** Consecutive failures that open the circuit. @default 5 */
  failureThreshold?: number;
  /** How long an open circuit refuses calls when the provider said nothing. @default 30 s */
  coolDownMs?: number;
  /** Longest cool-down a provider's retry-after can ask for; 0: a retry-after never opens it. @default 5 min */
  maxCoolDownMs?: number;
  now?: () => number;
}

export type CircuitState = 'closed' | 'open' | 'half_open';

export class Circuit {
  private failures = 0;
  private openUntil = 0;
  private probing = false;
  private readonly threshold: number;
  private readonly coolDownMs: number;
  private readonly maxCoolDownMs: number;
  private readonly now: () => number;

  constructor(opts: CircuitOptions = {}) {
    this.threshold = opts.failureThreshold ?? 5;
    this.coolDownMs = opts.coolDownMs ?? 30_000;
    this.maxCoolDownMs = opts.maxCoolDownMs ?? 300_000;
    this.now = opts.now ?? Date.now;
  }

  get state(): CircuitState {
    if (this.openUntil === 0) return 'closed';
    return this.now() < this.openUntil ? 'open' : 'half_open';
  }

  /** Milliseconds until an open circuit takes a probe (0 when it would take a call now). */
  waitMs(): number {
    return Math.max(0, this.openUntil - this.now());
  }

  /** Whether a call may go now; in half-open state only one call (the probe) at a time. */
  tryAcquire(): boolean {
    const state = this.state;
    if (state === 'closed') return true;
    if (state === 'open' || this.probing) return false;
    this.probing = true;
    return true;
  }

  success(): void {
    this.failures = 0;
    this.openUntil = 0;
    this.probing = false;
  }

  /** A failed call; `retryAfterMs` when the provider said how long to back off (a 429). */
  failure(retryAfterMs?: number): void {
    this.failures++;
    const wasProbe = this.probing;
    this.probing = false;
    const asked = Math.min(this.maxCoolDownMs, retryAfterMs ?? 0);
    if (asked > 0) {
      this.open(asked);
    } else if ((wasProbe || this.failures >= this.threshold) && this.coolDownMs > 0) {
      this.open(this.coolDownMs);
    }
  }

  /** The call ended without telling anything about the provider (the caller left): free the probe. */
  release(): void {
    this.probing = false;
  }

  private open(ms: number): void {
    this.openUntil = this.now() + ms;
  }
}
