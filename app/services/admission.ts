import { QuotaExceededError, RateLimitError } from '../errors';
import type { RequestStats } from '../lib/request-stats';
import type { ApiKeyRecord, RateLimiter } from '../stores/types';
import type { UpstreamResponse } from '../upstream/client';
import type { UpstreamStats } from '../upstream/forward';
import type { Headroom } from './headroom';
import { hasBudget, reserve, type LimitDefaults, type Reservation } from './limits';

export interface AdmissionDeps {
  limiter: RateLimiter;
  limits: LimitDefaults;
  /** Lets requests of keys with ample headroom start upstream before their limit check answers. */
  headroom?: Headroom;
  onBackgroundError?: (err: unknown) => void;
}

/** What a request brings to admission. */
export interface Candidate {
  key: ApiKeyRecord;
  /** Tokens to reserve. */
  tokens: number;
  /** Dollars to reserve: the request's maximum cost (null or absent when the model has no price). */
  costUsd?: number | null;
  stats: RequestStats;
  /**
   * The caller's hang-up signal and, when that signal is the request's alone (not a batch's shared
   * one), a way to abort it. Read only when an upstream call is made, so a request answered from the
   * cache never creates its signal.
   */
  hangUp: { readonly signal: AbortSignal; readonly abort?: () => void };
  /** False when the request may be answered without the upstream (a cache lookup is out). */
  mayStartEarly: boolean;
  /** Makes the upstream call. */
  call(signal: AbortSignal, stats: UpstreamStats): Promise<UpstreamResponse>;
}

export interface Admitted {
  reservation: Reservation;
  /** The upstream's response: the call started early, adopted, or a call made now. */
  upstream(): Promise<UpstreamResponse>;
}

const noop = (): void => undefined;

/**
 * Reserves the request's share of its key's limits (429 when refused) and hands back the upstream
 * call. With ample headroom (see headroom.ts) the call starts alongside the check instead of after
 * it; if the check then refuses or fails, that call is aborted and never seen by the caller.
 */
export async function admit(deps: AdmissionDeps, c: Candidate): Promise<Admitted> {
  const { key, tokens, stats } = c;
  const pending = reserve(deps.limiter, key, { tokens, costUsd: c.costUsd ?? null }, deps.limits, deps.onBackgroundError);
  // Keys with a budget (their own or their team's) always wait: the decision does not report what is left of it.
  const early =
    c.mayStartEarly && !hasBudget(key) && deps.headroom?.admitEarly(key.id, tokens)
      ? startEarly(c)
      : undefined;
  let reservation: Reservation;
  try {
    reservation = await pending;
  } catch (err) {
    early?.cancel();
    // A refusal makes the key's last known headroom wrong: no more early starts until a check allows.
    if (err instanceof RateLimitError || err instanceof QuotaExceededError) {
      stats.rateLimited = err.refusedBy;
      deps.headroom?.forget(key.id);
    }
    throw err;
  } finally {
    if (early) deps.headroom?.settled(key.id, tokens);
  }
  deps.headroom?.note(key.id, reservation.decision);
  return {
    reservation,
    upstream: early ? early.adopt : () => c.call(c.hangUp.signal, stats),
  };
}

/** `c.call`, with a synchronous throw turned into a rejection: the check's outcome must still be awaited. */
function callSafely(c: Candidate, signal: AbortSignal, stats: UpstreamStats): Promise<UpstreamResponse> {
  try {
    return c.call(signal, stats);
  } catch (err) {
    return Promise.reject(err);
  }
}

/**
 * The upstream call, started before the limit check answered: `adopt` it once the check allowed,
 * `cancel` it if the check refused or failed. Until adopted it records into its own stats, so a
 * cancelled call never shows up in the refused request's log line or upstream metrics.
 */
function startEarly(c: Candidate) {
  const own: UpstreamStats = { upstreamMs: 0, retries: 0 };
  const hangUp = c.hangUp.signal;
  let response: Promise<UpstreamResponse>;
  let stop: () => void;
  let unlink = noop;
  if (c.hangUp.abort) {
    // The signal is this request's alone: aborting it stops the upstream call, no second controller.
    stop = c.hangUp.abort;
    response = callSafely(c, hangUp, own);
    // Awaited only if the check allows; until then a failure must not surface as unhandled.
    response.catch(noop);
  } else {
    // A shared signal (a batch): one controller for both reasons to stop (AbortSignal.any costs
    // ~20 µs a call on Node 20), linked until the upstream body closes.
    const controller = new AbortController();
    const onHangUp = () => controller.abort(hangUp.reason);
    unlink = () => hangUp.removeEventListener('abort', onHangUp);
    if (hangUp.aborted) controller.abort(hangUp.reason);
    else hangUp.addEventListener('abort', onHangUp, { once: true });
    stop = () => controller.abort();
    response = callSafely(c, controller.signal, own);
    response.then((res) => res.body.once('close', unlink), unlink);
  }
  const merge = () => {
    const s = c.stats;
    s.earlyStart = 'used';
    s.upstreamMs += own.upstreamMs;
    s.retries += own.retries;
    if (own.upstreamStatus !== undefined) s.upstreamStatus = own.upstreamStatus;
    if (own.upstreamError !== undefined) s.upstreamError = own.upstreamError;
  };
  return {
    adopt(): Promise<UpstreamResponse> {
      return response.then(
        (res) => {
          merge();
          return res;
        },
        (err: unknown) => {
          merge();
          throw err;
        },
      );
    },
    cancel() {
      c.stats.earlyStart = 'cancelled';
      stop();
      unlink();
      response.then((res) => res.body.destroy(), noop);
    },
  };
}
