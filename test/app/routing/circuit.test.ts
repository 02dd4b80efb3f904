import { Circuit } from '../../../app/routing/circuit';

describe('Circuit', () => {
  let t = 0;
  const now = () => t;
  beforeEach(() => {
    t = 1_000_000;
  });

  it('opens after the threshold of consecutive failures, for the cool-down', () => {
    const c = new Circuit({ failureThreshold: 3, coolDownMs: 30_000, now });
    c.failure();
    c.failure();
    expect(c.tryAcquire()).toBe(true);
    c.failure();
    expect(c.state).toBe('open');
    expect(c.tryAcquire()).toBe(false);
    expect(c.waitMs()).toBe(30_000);
  });

  it('a success in between resets the count', () => {
    const c = new Circuit({ failureThreshold: 2, now });
    c.failure();
    c.success();
    c.failure();
    expect(c.state).toBe('closed');
  });

  it('a 429 with retry-after opens it for that long at once', () => {
    const c = new Circuit({ now });
    c.failure(7000);
    expect(c.state).toBe('open');
    expect(c.waitMs()).toBe(7000);
  });

  it('half-open: one probe at a time; success closes, failure opens again', () => {
    const c = new Circuit({ failureThreshold: 1, coolDownMs: 1000, now });
    c.failure();
    t += 1000;
    expect(c.state).toBe('half_open');
    expect(c.tryAcquire()).toBe(true);
    expect(c.tryAcquire()).toBe(false);
    c.failure();
    expect(c.state).toBe('open');
    t += 1000;
    expect(c.tryAcquire()).toBe(true);
    c.success();
    expect(c.state).toBe('closed');
    expect(c.tryAcquire()).toBe(true);
    expect(c.tryAcquire()).toBe(true);
  });

  it('release frees the probe without judging the provider', () => {
    const c = new Circuit({ failureThreshold: 1, coolDownMs: 1000, now });
    c.failure();
    t += 1000;
    expect(c.tryAcquire()).toBe(true);
    c.release();
    expect(c.tryAcquire()).toBe(true);
  });
});
