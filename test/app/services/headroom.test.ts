import { createHeadroom, type HeadroomOptions } from '../../../app/services/headroom';
import type { LimitDecision } from '../../../app/stores/types';

/** A decision with 10 requests / 1000 tokens a minute, `remaining*` left. */
function decision(remainingRequests: number, remainingTokens: number, over: Partial<LimitDecision> = {}): LimitDecision {
  return {
    allowed: true,
    limitRequests: 10,
    remainingRequests,
    resetRequestsMs: 6000,
    limitTokens: 1000,
    remainingTokens,
    resetTokensMs: 6000,
    retryAfterMs: 0,
    ...over,
  };
}

/** A headroom on a hand-driven clock (ms). */
function setup(opts: Omit<HeadroomOptions, 'now'> = {}) {
  const clock = { t: 10_000 };
  const headroom = createHeadroom({ maxAgeMs: 1000, minShare: 0.5, ...opts, now: () => clock.t });
  return { headroom, clock };
}

describe('freshness', () => {
  it('admits nothing for a key it has never seen a decision for', () => {
    const { headroom } = setup();
    expect(headroom.admitEarly('k', 1)).toBe(false);
  });

  it('admits while the last decision is at most maxAgeMs old, and not a millisecond after', () => {
    const { headroom, clock } = setup({ maxAgeMs: 1000 });
    headroom.note('k', decision(10, 1000));
    expect(headroom.admitEarly('k', 1)).toBe(true);
    headroom.settled('k', 1);
    clock.t += 1000;
    expect(headroom.admitEarly('k', 1)).toBe(true);
    headroom.settled('k', 1);
    clock.t += 1;
    expect(headroom.admitEarly('k', 1)).toBe(false);
  });

  it('a new decision for a stale key makes it fresh again', () => {
    const { headroom, clock } = setup({ maxAgeMs: 1000 });
    headroom.note('k', decision(10, 1000));
    clock.t += 5000;
    expect(headroom.admitEarly('k', 1)).toBe(false);
    headroom.note('k', decision(10, 1000));
    expect(headroom.admitEarly('k', 1)).toBe(true);
  });

  it('defaults to a 1000 ms age and a one-half share', () => {
    const clock = { t: 0 };
    const headroom = createHeadroom({ now: () => clock.t });
    headroom.note('k', decision(6, 1000));
    // 6 - 0 - 1 = 5 = 0.5 * 10: just enough.
    expect(headroom.admitEarly('k', 1)).toBe(true);
    // 6 - 1 - 1 = 4 < 5.
    expect(headroom.admitEarly('k', 1)).toBe(false);
    headroom.settled('k', 1);
    clock.t = 1000;
    expect(headroom.admitEarly('k', 1)).toBe(true);
    headroom.settled('k', 1);
    clock.t = 1001;
    expect(headroom.admitEarly('k', 1)).toBe(false);
  });

  it('keeps keys apart', () => {
    const { headroom } = setup();
    headroom.note('a', decision(10, 1000));
    headroom.note('b', decision(1, 1000));
    expect(headroom.admitEarly('b', 1)).toBe(false);
    expect(headroom.admitEarly('c', 1)).toBe(false);
    expect(headroom.admitEarly('a', 1)).toBe(true);
  });
});

describe('the request share', () => {
  it('admits when remaining − in flight − this request is at least minShare of the limit', () => {
    const { headroom } = setup({ minShare: 0.5 });
    headroom.note('k', decision(6, 1000)); // 6 - 0 - 1 = 5 ≥ 5
    expect(headroom.admitEarly('k', 1)).toBe(true);
  });

  it('refuses one request below it', () => {
    const { headroom } = setup({ minShare: 0.5 });
    headroom.note('k', decision(5, 1000)); // 5 - 0 - 1 = 4 < 5
    expect(headroom.admitEarly('k', 1)).toBe(false);
  });

  it('refuses after a refusal-like decision (nothing remaining)', () => {
    const { headroom } = setup();
    headroom.note('k', decision(0, 0, { allowed: false, refusedBy: 'requests', retryAfterMs: 500 }));
    expect(headroom.admitEarly('k', 1)).toBe(false);
  });

  it('uses minShare as given (0 admits down to the last request, 1 never)', () => {
    const zero = setup({ minShare: 0 }).headroom;
    zero.note('k', decision(1, 1000));
    expect(zero.admitEarly('k', 1)).toBe(true);
    expect(zero.admitEarly('k', 1)).toBe(false); // 1 - 1 - 1 < 0

    const one = setup({ minShare: 1 }).headroom;
    one.note('k', decision(10, 1000));
    expect(one.admitEarly('k', 0)).toBe(false); // 10 - 0 - 1 < 10
  });
});

describe('the token share', () => {
  it('counts the tokens the request reserves', () => {
    const { headroom } = setup({ minShare: 0.5 });
    headroom.note('k', decision(10, 1000));
    expect(headroom.admitEarly('k', 501)).toBe(false); // 1000 - 501 = 499 < 500
    expect(headroom.admitEarly('k', 500)).toBe(true); // 1000 - 500 = 500 ≥ 500
  });

  it('refuses when tokens are short even with requests to spare', () => {
    const { headroom } = setup({ minShare: 0.5 });
    headroom.note('k', decision(10, 499));
    expect(headroom.admitEarly('k', 0)).toBe(false);
  });

  it('refuses when requests are short even with tokens to spare', () => {
    const { headroom } = setup({ minShare: 0.5 });
    headroom.note('k', decision(5, 1000));
    expect(headroom.admitEarly('k', 0)).toBe(false);
  });
});

describe('requests in flight', () => {
  it('counts each admitted request against the request share until it is settled', () => {
    const { headroom } = setup({ minShare: 0.5 });
    headroom.note('k', decision(7, 1000));
    expect(headroom.admitEarly('k', 1)).toBe(true); // 7 - 0 - 1 = 6
    expect(headroom.admitEarly('k', 1)).toBe(true); // 7 - 1 - 1 = 5
    expect(headroom.admitEarly('k', 1)).toBe(false); // 7 - 2 - 1 = 4
    headroom.settled('k', 1);
    expect(headroom.admitEarly('k', 1)).toBe(true);
    expect(headroom.admitEarly('k', 1)).toBe(false);
  });

  it('counts the reserved tokens of admitted requests until they are settled', () => {
    const { headroom } = setup({ minShare: 0.5 });
    headroom.note('k', decision(10, 1000));
    expect(headroom.admitEarly('k', 200)).toBe(true); // 1000 - 0 - 200 = 800
    expect(headroom.admitEarly('k', 200)).toBe(true); // 1000 - 200 - 200 = 600
    expect(headroom.admitEarly('k', 200)).toBe(false); // 1000 - 400 - 200 = 400
    expect(headroom.admitEarly('k', 100)).toBe(true); // 1000 - 400 - 100 = 500
    headroom.settled('k', 200); // in flight: 300
    expect(headroom.admitEarly('k', 200)).toBe(true); // 1000 - 300 - 200 = 500
    expect(headroom.admitEarly('k', 1)).toBe(false); // 1000 - 500 - 1 = 499
  });

  it('releases exactly the tokens settled', () => {
    const { headroom } = setup({ minShare: 0.5 });
    headroom.note('k', decision(10, 1000));
    expect(headroom.admitEarly('k', 300)).toBe(true); // in flight: 300
    expect(headroom.admitEarly('k', 201)).toBe(false); // 1000 - 300 - 201 = 499
    headroom.settled('k', 300);
    expect(headroom.admitEarly('k', 500)).toBe(true); // all released: 1000 - 0 - 500 = 500
  });

  it('does not count a request it refused', () => {
    const { headroom } = setup({ minShare: 0.5 });
    headroom.note('k', decision(7, 1000));
    expect(headroom.admitEarly('k', 600)).toBe(false); // tokens short: not in flight
    expect(headroom.admitEarly('k', 1)).toBe(true);
    expect(headroom.admitEarly('k', 1)).toBe(true); // would fail had the refused one counted
  });

  it('never lets settled() drive the counts below zero', () => {
    const { headroom } = setup({ minShare: 0.5 });
    headroom.note('k', decision(6, 1000));
    headroom.settled('k', 1000);
    headroom.settled('k', 1000);
    // Were in flight now -2 requests / -2000 tokens, a 7th request and 2500 tokens would pass.
    expect(headroom.admitEarly('k', 501)).toBe(false);
    expect(headroom.admitEarly('k', 1)).toBe(true);
    expect(headroom.admitEarly('k', 1)).toBe(false);
  });

  it('ignores settled() for a key it does not know', () => {
    const { headroom } = setup();
    expect(() => headroom.settled('nobody', 5)).not.toThrow();
    expect(headroom.admitEarly('nobody', 0)).toBe(false);
  });
});

describe('note()', () => {
  it('replaces the limits and remaining counts of a key it already knows', () => {
    const { headroom } = setup({ minShare: 0.5 });
    headroom.note('k', decision(10, 1000));
    headroom.note('k', decision(5, 1000));
    expect(headroom.admitEarly('k', 1)).toBe(false);
    headroom.note('k', decision(5, 1000, { limitRequests: 8 })); // 5 - 1 = 4 ≥ 4
    expect(headroom.admitEarly('k', 1)).toBe(true);
    headroom.settled('k', 1);
    headroom.note('k', decision(10, 1000, { limitTokens: 100, remainingTokens: 60 }));
    expect(headroom.admitEarly('k', 10)).toBe(true); // 60 - 10 = 50 ≥ 50
    expect(headroom.admitEarly('k', 1)).toBe(false); // 60 - 10 - 1 < 50
  });

  it('keeps the requests already in flight when a new decision arrives', () => {
    const { headroom } = setup({ minShare: 0.5 });
    headroom.note('k', decision(10, 1000));
    expect(headroom.admitEarly('k', 1)).toBe(true);
    expect(headroom.admitEarly('k', 1)).toBe(true);
    headroom.note('k', decision(8, 1000)); // 8 - 2 - 1 = 5: one more
    expect(headroom.admitEarly('k', 1)).toBe(true);
    expect(headroom.admitEarly('k', 1)).toBe(false);
    headroom.settled('k', 1);
    headroom.settled('k', 1);
    headroom.settled('k', 1);
    expect(headroom.admitEarly('k', 1)).toBe(true);
  });

  it('refreshes the time of a key it already knows', () => {
    const { headroom, clock } = setup({ maxAgeMs: 1000 });
    headroom.note('k', decision(10, 1000));
    clock.t += 800;
    headroom.note('k', decision(10, 1000));
    clock.t += 800; // 1600 after the first note, 800 after the second
    expect(headroom.admitEarly('k', 1)).toBe(true);
  });
});

describe('forget()', () => {
  it('requests in flight when a key is forgotten still count once it is noted again', () => {
    const { headroom } = setup();
    headroom.note('k', decision(8, 1000));
    expect(headroom.admitEarly('k', 1)).toBe(true); // A
    expect(headroom.admitEarly('k', 1)).toBe(true); // B
    headroom.forget('k');
    headroom.note('k', decision(8, 1000));
    expect(headroom.admitEarly('k', 1)).toBe(true); // D: 8 - 2 - 1 = 5
    expect(headroom.admitEarly('k', 1)).toBe(false); // 8 - 3 - 1 = 4 < 5
    headroom.settled('k', 1); // A
    headroom.settled('k', 1); // B
    // Only D is left in flight: 8 - 1 - 1 = 6.
    expect(headroom.admitEarly('k', 1)).toBe(true);
    expect(headroom.admitEarly('k', 1)).toBe(true); // 8 - 2 - 1 = 5
    expect(headroom.admitEarly('k', 1)).toBe(false);
  });

  it('admits nothing for the key until a new decision is noted, other keys untouched', () => {
    const { headroom } = setup();
    headroom.note('k', decision(10, 1000));
    headroom.note('other', decision(10, 1000));
    expect(headroom.admitEarly('k', 1)).toBe(true);
    headroom.forget('k');
    expect(headroom.admitEarly('k', 1)).toBe(false);
    expect(headroom.admitEarly('other', 1)).toBe(true);
    // The early request admitted before the refusal settles harmlessly.
    headroom.settled('k', 1);
    headroom.note('k', decision(10, 1000));
    expect(headroom.admitEarly('k', 1)).toBe(true);
  });
});

describe('maxKeys', () => {
  it('forgets every key once a new key would go past maxKeys, then remembers the new one', () => {
    const { headroom } = setup({ maxKeys: 2 });
    headroom.note('a', decision(10, 1000));
    headroom.note('b', decision(10, 1000));
    headroom.note('c', decision(10, 1000));
    expect(headroom.admitEarly('a', 1)).toBe(false);
    expect(headroom.admitEarly('b', 1)).toBe(false);
    expect(headroom.admitEarly('c', 1)).toBe(true);
  });

  it('does not clear when a key it holds is noted again at capacity', () => {
    const { headroom } = setup({ maxKeys: 2 });
    headroom.note('a', decision(10, 1000));
    headroom.note('b', decision(10, 1000));
    headroom.note('a', decision(10, 1000));
    headroom.note('b', decision(10, 1000));
    expect(headroom.admitEarly('a', 1)).toBe(true);
    expect(headroom.admitEarly('b', 1)).toBe(true);
  });

  it('keeps keys with requests in flight past maxKeys, so their settled() lands where it was counted', () => {
    const { headroom } = setup({ maxKeys: 1 });
    headroom.note('a', decision(6, 1000));
    expect(headroom.admitEarly('a', 1)).toBe(true);
    headroom.note('b', decision(10, 1000)); // a has one in flight: kept
    // 6 - 1 - 1 = 4 < 5: the one in flight still counts.
    expect(headroom.admitEarly('a', 1)).toBe(false);
    headroom.settled('a', 1);
    expect(headroom.admitEarly('a', 1)).toBe(true);
    headroom.settled('a', 1);
    headroom.note('c', decision(10, 1000)); // nothing in flight anywhere: a and b go
    expect(headroom.admitEarly('a', 1)).toBe(false);
    expect(headroom.admitEarly('b', 1)).toBe(false);
    expect(headroom.admitEarly('c', 1)).toBe(true);
  });
});
