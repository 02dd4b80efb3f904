import type { LimitDecision } from '../stores/types';

export interface HeadroomOptions {
  /** How long a key's last decision is trusted. @default 1000 */
  maxAgeMs?: number;
  /** Share of each limit that must be left, after what is in flight, to start early. @default 0.5 */
  minShare?: number;
  /**
   * Keys remembered; past it every key without requests in flight is forgotten (the memory refills
   * from the next decisions). @default 10000
   */
  maxKeys?: number;
  /** Milliseconds, monotonic. @default performance.now */
  now?: () => number;
}

interface KeyView {
  at: number;
  remainingRequests: number;
  limitRequests: number;
  remainingTokens: number;
  limitTokens: number;
  /** Requests (and their reserved tokens) started early whose check has not answered yet. */
  inflight: number;
  inflightTokens: number;
}

/**
 * Decides when a request may go to the upstream while its limit check is still on its way to
 * Redis ("optimistic admission"). The check still runs and still counts every request exactly; it
 * only stops being in front of the upstream call. When it refuses after all, the upstream call is
 * aborted and the caller gets the 429 as usual, so the only cost of a wrong guess is an aborted
 * upstream request.
 *
 * A guess is made only when this replica's latest decision for the key is fresh (`maxAgeMs`) and
 * left at least `minShare` of both the request and the token limit, after subtracting what this
 * replica already started early. A refusal then needs other replicas to burn that share within
 * `maxAgeMs`. Keys with a monthly budget are never guessed for (the decision does not report it).
 */
export interface Headroom {
  /** True when a request of `tokens` may start before its check answers; it is then counted as in flight. */
  admitEarly(keyId: string, tokens: number): boolean;
  /** The check of a request that `admitEarly` let through answered (allowed or not, or failed). */
  settled(keyId: string, tokens: number): void;
  /** Records the latest decision for the key (from any request, early or not). */
  note(keyId: string, decision: LimitDecision): void;
  /** Its check refused: nothing starts early for the key until a check allows again (in-flight counts are kept). */
  forget(keyId: string): void;
}

export function createHeadroom(opts: HeadroomOptions = {}): Headroom {
  const maxAgeMs = opts.maxAgeMs ?? 1000;
  const minShare = opts.minShare ?? 0.5;
  const maxKeys = opts.maxKeys ?? 10_000;
  const now = opts.now ?? (() => performance.now());
  const views = new Map<string, KeyView>();

  return {
    admitEarly(keyId, tokens) {
      const v = views.get(keyId);
      if (!v || now() - v.at > maxAgeMs) return false;
      if (v.remainingRequests - v.inflight - 1 < minShare * v.limitRequests) return false;
      if (v.remainingTokens - v.inflightTokens - tokens < minShare * v.limitTokens) return false;
      v.inflight += 1;
      v.inflightTokens += tokens;
      return true;
    },

    settled(keyId, tokens) {
      const v = views.get(keyId);
      if (!v) return;
      v.inflight = Math.max(0, v.inflight - 1);
      v.inflightTokens = Math.max(0, v.inflightTokens - tokens);
    },

    forget(keyId) {
      // Stale, not deleted: the requests still in flight settle against this same view, so a view
      // made afresh by the next decision cannot have their counts taken off its own.
      const v = views.get(keyId);
      if (v) v.at = Number.NEGATIVE_INFINITY;
    },

    note(keyId, d) {
      const v = views.get(keyId);
      if (v) {
        v.at = now();
        v.remainingRequests = d.remainingRequests;
        v.limitRequests = d.limitRequests;
        v.remainingTokens = d.remainingTokens;
        v.limitTokens = d.limitTokens;
        return;
      }
      if (views.size >= maxKeys) {
        // Keys with requests in flight stay, for the same reason as in forget().
        for (const [id, view] of views) if (view.inflight === 0) views.delete(id);
      }
      views.set(keyId, {
        at: now(),
        remainingRequests: d.remainingRequests,
        limitRequests: d.limitRequests,
        remainingTokens: d.remainingTokens,
        limitTokens: d.limitTokens,
        inflight: 0,
        inflightTokens: 0,
      });
    },
  };
}
