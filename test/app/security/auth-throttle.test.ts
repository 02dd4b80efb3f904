import { createAuthThrottle } from '../../../app/security/auth-throttle';

function setup(over: { maxFailures?: number; windowMs?: number; maxAddresses?: number } = {}) {
  const clock = { t: 1_000_000 };
  const throttle = createAuthThrottle({ maxFailures: 3, windowMs: 60_000, now: () => clock.t, ...over });
  return { throttle, clock };
}

describe('auth throttle', () => {
  it('lets an address fail up to the limit, then tells it when to retry', () => {
    const { throttle } = setup();
    for (let i = 0; i < 3; i++) {
      expect(throttle.retryAfter('10.0.0.1')).toBe(0);
      throttle.failed('10.0.0.1');
    }
    expect(throttle.retryAfter('10.0.0.1')).toBe(60);
    expect(throttle.retryAfter('10.0.0.2')).toBe(0);
  });

  it('slides: the previous window counts for the part still covered', () => {
    const { throttle, clock } = setup();
    for (let i = 0; i < 3; i++) throttle.failed('a');
    clock.t += 60_000; // the next window starts: the 3 failures weigh 3 × 1.0
    expect(throttle.retryAfter('a')).toBeGreaterThan(0);
    clock.t += 30_000; // half way: 3 × 0.5 = 1.5 < 3
    expect(throttle.retryAfter('a')).toBe(0);
    throttle.failed('a');
    throttle.failed('a'); // 2 + 1.5 ≥ 3
    expect(throttle.retryAfter('a')).toBeGreaterThan(0);
    clock.t += 120_000; // everything has expired
    expect(throttle.retryAfter('a')).toBe(0);
  });

  it('retry-after counts down to the end of the window, never below 1 s', () => {
    const { throttle, clock } = setup();
    for (let i = 0; i < 3; i++) throttle.failed('a');
    clock.t += 59_500;
    expect(throttle.retryAfter('a')).toBe(1);
  });

  it('remembers at most maxAddresses, forgetting the least recently failing', () => {
    const { throttle } = setup({ maxAddresses: 100, maxFailures: 1 });
    throttle.failed('attacker');
    for (let i = 0; i < 99; i++) throttle.failed(`spoof-${i}`);
    throttle.failed('attacker'); // still the most recent: kept
    for (let i = 99; i < 150; i++) throttle.failed(`spoof-${i}`);
    expect(throttle.size).toBe(100);
    expect(throttle.retryAfter('attacker')).toBeGreaterThan(0);
    expect(throttle.retryAfter('spoof-0')).toBe(0); // forgotten
  });

  it('keeps memory bounded under a flood of distinct addresses', () => {
    const { throttle } = setup({ maxAddresses: 1000 });
    for (let i = 0; i < 50_000; i++) throttle.failed(`198.51.${i >> 8}.${i & 255}`);
    expect(throttle.size).toBe(1000);
  });
});
