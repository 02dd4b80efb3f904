/**
 * admit(): the limit check, and the upstream call started alongside it when the key has headroom.
 * The upstream is a hand-driven fake here (every call recorded with its signal); chat.test.ts runs
 * the same paths over HTTP through the chat service.
 */
import { getEventListeners } from 'node:events';
import { PassThrough } from 'node:stream';
import { QuotaExceededError, RateLimitError } from '../../../app/errors';
import { newRequestStats } from '../../../app/lib/request-stats';
import { admit, type Candidate } from '../../../app/services/admission';
import { createHeadroom } from '../../../app/services/headroom';
import type { ApiKeyRecord, LimitDecision } from '../../../app/stores/types';
import type { UpstreamResponse } from '../../../app/upstream/client';
import type { UpstreamStats } from '../../../app/upstream/forward';
import { heldLimiter } from '../../support/held-limiter';
import { keyRecord as apiKey } from '../../support/fixtures';

const AMPLE: LimitDecision = {
  allowed: true,
  limitRequests: 100,
  remainingRequests: 99,
  resetRequestsMs: 600,
  limitTokens: 100_000,
  remainingTokens: 99_000,
  resetTokensMs: 600,
  retryAfterMs: 0,
};
const REFUSED: LimitDecision = { ...AMPLE, allowed: false, refusedBy: 'requests', remainingRequests: 0, retryAfterMs: 1000 };


interface Call {
  signal: AbortSignal;
  stats: UpstreamStats;
  body: PassThrough;
  respond(): void;
  fail(err: unknown): void;
}

/** An upstream whose calls the test answers; each records the signal and stats it was given. */
function fakeUpstream() {
  const calls: Call[] = [];
  const call = (signal: AbortSignal, stats: UpstreamStats): Promise<UpstreamResponse> =>
    new Promise((resolve, reject) => {
      const body = new PassThrough();
      calls.push({
        signal,
        stats,
        body,
        respond() {
          stats.upstreamMs += 5;
          stats.upstreamStatus = 200;
          resolve({ statusCode: 200, headers: {}, body: body as unknown as UpstreamResponse['body'], retries: 0 });
        },
        fail: reject,
      });
      signal.addEventListener('abort', () => reject(signal.reason), { once: true });
    });
  return { calls, call };
}

function setup() {
  const held = heldLimiter();
  const headroom = createHeadroom({ maxAgeMs: 60_000 });
  const up = fakeUpstream();
  const deps = { limiter: held.limiter, limits: { rpm: 100, tpm: 100_000 }, headroom };
  return { ...held, headroom, up, deps };
}

/** A candidate whose hang-up signal counts how often it was read. */
function candidate(t: ReturnType<typeof setup>, key: ApiKeyRecord, over: Partial<Candidate> = {}) {
  const controller = new AbortController();
  let reads = 0;
  const c: Candidate = {
    key,
    tokens: 100,
    stats: newRequestStats(),
    hangUp: {
      get signal() {
        reads++;
        return controller.signal;
      },
    },
    mayStartEarly: true,
    call: t.up.call,
    ...over,
  };
  return { c, controller, reads: () => reads };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('admit', () => {
  it('without a recent decision for the key, calls upstream only once the check allowed', async () => {
    const t = setup();
    const { c } = candidate(t, apiKey());
    const admitted = admit(t.deps, c);
    await tick();
    expect(t.up.calls).toHaveLength(0);
    t.checks[0].answer(AMPLE);
    const { reservation, upstream } = await admitted;
    expect(reservation.decision).toBe(AMPLE);
    const response = upstream();
    expect(t.up.calls).toHaveLength(1);
    t.up.calls[0].respond();
    expect((await response).statusCode).toBe(200);
    expect(c.stats.earlyStart).toBeUndefined();
    expect(c.stats.upstreamStatus).toBe(200);
  });

  it('with ample headroom, starts the call before the check answers and adopts it once allowed', async () => {
    const t = setup();
    const key = apiKey();
    t.headroom.note(key.id, AMPLE);
    const { c } = candidate(t, key);
    const admitted = admit(t.deps, c);
    expect(t.up.calls).toHaveLength(1);
    expect(t.checks[0].answered).toBe(false);
    t.up.calls[0].respond();
    await tick();
    // Not the request's until adopted.
    expect(c.stats.upstreamStatus).toBeUndefined();
    t.checks[0].answer(AMPLE);
    const { upstream } = await admitted;
    await upstream();
    expect(t.up.calls).toHaveLength(1);
    expect(c.stats).toMatchObject({ earlyStart: 'used', upstreamStatus: 200, upstreamMs: 5 });
  });

  it('a refusal aborts the early call, answers the 429 and stops early starts for the key', async () => {
    const t = setup();
    const key = apiKey();
    t.headroom.note(key.id, AMPLE);
    const { c, controller } = candidate(t, key);
    const admitted = admit(t.deps, c).catch((err: unknown) => err);
    t.checks[0].answer(REFUSED);
    expect(await admitted).toBeInstanceOf(RateLimitError);
    expect(t.up.calls[0].signal.aborted).toBe(true);
    // The caller's own signal is shared (no abort given): it stays as it was, and unlinked.
    expect(controller.signal.aborted).toBe(false);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    expect(c.stats.earlyStart).toBe('cancelled');
    expect(c.stats.upstreamStatus).toBeUndefined();
    expect(t.headroom.admitEarly(key.id, 1)).toBe(false);
  });

  it('with a signal of its own, a refusal aborts that signal itself (no second controller)', async () => {
    const t = setup();
    const key = apiKey();
    t.headroom.note(key.id, AMPLE);
    const own = new AbortController();
    const { c } = candidate(t, key, { hangUp: { signal: own.signal, abort: () => own.abort() } });
    const admitted = admit(t.deps, c).catch((err: unknown) => err);
    expect(t.up.calls[0].signal).toBe(own.signal);
    t.checks[0].answer(REFUSED);
    expect(await admitted).toBeInstanceOf(RateLimitError);
    expect(own.signal.aborted).toBe(true);
  });

  it('a budget refusal is a QuotaExceededError and forgets the key too', async () => {
    const t = setup();
    const key = apiKey();
    t.headroom.note(key.id, AMPLE);
    const { c } = candidate(t, key);
    const admitted = admit(t.deps, c).catch((err: unknown) => err);
    t.checks[0].answer({ ...REFUSED, refusedBy: 'budget' });
    expect(await admitted).toBeInstanceOf(QuotaExceededError);
    expect(t.headroom.admitEarly(key.id, 1)).toBe(false);
  });

  it('a failing check aborts the early call and rethrows, keeping what is known of the key', async () => {
    const t = setup();
    const key = apiKey();
    t.headroom.note(key.id, AMPLE);
    const { c } = candidate(t, key);
    const boom = new Error('limiter down');
    const admitted = admit(t.deps, c).catch((err: unknown) => err);
    t.checks[0].fail(boom);
    expect(await admitted).toBe(boom);
    expect(t.up.calls[0].signal.aborted).toBe(true);
    expect(t.headroom.admitEarly(key.id, 1)).toBe(true);
  });

  it('an upstream call that throws at once still waits for the check, and fails only if adopted', async () => {
    const t = setup();
    const key = apiKey();
    t.headroom.note(key.id, AMPLE);
    const boom = new Error('bad request to build');
    const throwing: Candidate['call'] = () => {
      throw boom;
    };
    const first = candidate(t, key, { call: throwing });
    const refusedOne = admit(t.deps, first.c).catch((err: unknown) => err);
    t.checks[0].answer(REFUSED);
    expect(await refusedOne).toBeInstanceOf(RateLimitError);

    t.headroom.note(key.id, AMPLE);
    const second = candidate(t, key, { call: throwing });
    const allowed = admit(t.deps, second.c);
    t.checks[1].answer(AMPLE);
    await expect((await allowed).upstream()).rejects.toBe(boom);
  });

  it('the caller hanging up before the check answers aborts the early call', async () => {
    const t = setup();
    const key = apiKey();
    t.headroom.note(key.id, AMPLE);
    const { c, controller } = candidate(t, key);
    const admitted = admit(t.deps, c);
    controller.abort();
    expect(t.up.calls[0].signal.aborted).toBe(true);
    t.checks[0].answer(AMPLE);
    const { upstream } = await admitted;
    await expect(upstream()).rejects.toBeDefined();
  });

  it('drops its link to a shared signal once the early response body closes', async () => {
    const t = setup();
    const key = apiKey();
    t.headroom.note(key.id, AMPLE);
    const { c, controller } = candidate(t, key);
    const admitted = admit(t.deps, c);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    t.up.calls[0].respond();
    t.checks[0].answer(AMPLE);
    const res = await (await admitted).upstream();
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    res.body.resume();
    t.up.calls[0].body.end();
    await new Promise((resolve) => res.body.once('close', resolve));
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it.each([
    ['keys with a monthly budget', { monthlyTokenBudget: 1_000_000 }, {}],
    ['requests that may be answered from the cache', {}, { mayStartEarly: false }],
  ])('%s wait for the check, and do not even read the hang-up signal before', async (_name, keyOver, over) => {
    const t = setup();
    const key = apiKey(keyOver);
    t.headroom.note(key.id, AMPLE);
    const { c, reads } = candidate(t, key, over);
    const admitted = admit(t.deps, c);
    await tick();
    expect(t.up.calls).toHaveLength(0);
    expect(reads()).toBe(0);
    t.checks[0].answer(AMPLE);
    await admitted;
    expect(reads()).toBe(0);
  });

  it('without a headroom (RATE_LIMIT_EARLY_START=false), always waits', async () => {
    const t = setup();
    const key = apiKey();
    t.headroom.note(key.id, AMPLE);
    const { c } = candidate(t, key);
    const admitted = admit({ ...t.deps, headroom: undefined }, c);
    await tick();
    expect(t.up.calls).toHaveLength(0);
    t.checks[0].answer(AMPLE);
    await admitted;
  });
});
