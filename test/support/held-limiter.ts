import type { LimitCheck, LimitDecision, LimitReconcile, RateLimiter } from '../../app/stores/types';

export interface HeldCheck {
  req: LimitCheck;
  answered: boolean;
  answer(d: LimitDecision): void;
  fail(err: unknown): void;
}

/**
 * A limiter whose checks are answered by the test: each `check` waits until the test calls
 * `answer`/`fail` on it, unless `autoAnswer` is set.
 */
export function heldLimiter() {
  const checks: HeldCheck[] = [];
  const reconciles: LimitReconcile[] = [];
  const state: { autoAnswer: LimitDecision | undefined } = { autoAnswer: undefined };
  const limiter: RateLimiter = {
    check(req) {
      return new Promise<LimitDecision>((resolve, reject) => {
        const held: HeldCheck = {
          req,
          answered: false,
          answer(d) {
            held.answered = true;
            resolve(d);
          },
          fail(err) {
            held.answered = true;
            reject(err);
          },
        };
        checks.push(held);
        if (state.autoAnswer) held.answer(state.autoAnswer);
      });
    },
    reconcile: async (r) => {
      reconciles.push(r);
    },
    ping: async () => undefined,
    close: async () => undefined,
  };
  return { limiter, checks, reconciles, state };
}

