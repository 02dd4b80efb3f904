import { randomUUID } from 'node:crypto';
import { getEventListeners } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import { RateLimitError } from '../../../app/errors';
import { newRequestStats } from '../../../app/lib/request-stats';
import type { ChatCompletionBody } from '../../../app/schemas/requests';
import { createChatService, type ChatRequest, type ChatResult, type ChatServiceDeps } from '../../../app/services/chat';
import { createHeadroom, type Headroom } from '../../../app/services/headroom';
import { createPricing } from '../../../app/pricing/pricing';
import { createMemoryCache } from '../../../app/stores/cache-memory';
import type {
  ApiKeyRecord,
  CachedAnswer,
  LimitDecision,
  LimitKind,
  ResponseCache,
  UsageRecord,
} from '../../../app/stores/types';
import { createUpstreamClient, type UpstreamClient, type UpstreamRequest } from '../../../app/upstream/client';
import { startFakeUpstream, type FakeUpstream } from '../../support/fake-upstream';
import { heldLimiter } from '../../support/held-limiter';
import { keyRecord as apiKey } from '../../support/fixtures';

// ---------------------------------------------------------------------------------------------
// Fixtures

const AMPLE: LimitDecision = {
  allowed: true,
  limitRequests: 100,
  remainingRequests: 99,
  resetRequestsMs: 600,
  limitTokens: 1_000_000,
  remainingTokens: 990_000,
  resetTokensMs: 1500,
  retryAfterMs: 0,
};

/** An allowed decision that leaves too little for an early start (2 of 100 requests left). */
const SCARCE: LimitDecision = { ...AMPLE, remainingRequests: 2, remainingTokens: 5000 };

function refused(refusedBy: LimitKind = 'requests', retryAfterMs = 1500): LimitDecision {
  return { ...AMPLE, allowed: false, refusedBy, remainingRequests: 0, retryAfterMs };
}


/** A non-cacheable chat body (no temperature: 0), unique per call so answers can be told apart. */
function chatBody(over: Partial<ChatCompletionBody> = {}): ChatCompletionBody {
  return { model: 'gpt-4o-mini', messages: [{ role: 'user', content: `hello ${randomUUID()}` }], ...over };
}

function chatRequest(key: ApiKeyRecord, body: ChatCompletionBody, over: Partial<ChatRequest> = {}): ChatRequest {
  return {
    key,
    body,
    requestId: randomUUID(),
    signal: new AbortController().signal,
    stats: newRequestStats(),
    startedAt: performance.now(),
    ...over,
  };
}

/** The real headroom, with every call recorded. */
function recordingHeadroom(inner: Headroom) {
  const calls = {
    admitEarly: [] as Array<{ keyId: string; tokens: number; result: boolean }>,
    settled: [] as Array<{ keyId: string; tokens: number }>,
    note: [] as Array<{ keyId: string; decision: LimitDecision }>,
    forget: [] as string[],
  };
  const headroom: Headroom = {
    admitEarly(keyId, tokens) {
      const result = inner.admitEarly(keyId, tokens);
      calls.admitEarly.push({ keyId, tokens, result });
      return result;
    },
    settled(keyId, tokens) {
      calls.settled.push({ keyId, tokens });
      inner.settled(keyId, tokens);
    },
    note(keyId, decision) {
      calls.note.push({ keyId, decision });
      inner.note(keyId, decision);
    },
    forget(keyId) {
      calls.forget.push(keyId);
      inner.forget(keyId);
    },
  };
  return { headroom, calls };
}

/** The memory cache, with reads recorded. */
function recordingCache(inner: ResponseCache) {
  const gets: string[] = [];
  const sets: Array<{ key: string; value: CachedAnswer }> = [];
  const cache: ResponseCache = {
    get(key) {
      gets.push(key);
      return inner.get(key);
    },
    async set(key, value, ttl) {
      sets.push({ key, value });
      return inner.set(key, value, ttl);
    },
    ping: () => inner.ping(),
    close: () => inner.close(),
  };
  return { cache, gets, sets };
}

// ---------------------------------------------------------------------------------------------
// The real upstream: a fake OpenAI server over HTTP, reached through the gateway's own client.

let up: FakeUpstream;
let realClient: UpstreamClient;
/** Every call the service made to the upstream client, recorded synchronously. */
const upstreamCalls: UpstreamRequest[] = [];
/** Upstream calls whose response headers have arrived. */
let upstreamAnswered = 0;
const upstream: UpstreamClient = {
  request(req) {
    upstreamCalls.push(req);
    return realClient.request(req).then((res) => {
      upstreamAnswered++;
      return res;
    });
  },
  close: () => realClient.close(),
};
const backgroundErrors: unknown[] = [];

beforeAll(async () => {
  up = await startFakeUpstream();
  realClient = createUpstreamClient({ baseUrl: up.url, timeoutMs: 10_000, maxRetries: 0 });
});

afterEach(() => {
  up.reset();
  upstreamCalls.length = 0;
  upstreamAnswered = 0;
  expect(backgroundErrors.splice(0)).toEqual([]);
});

afterAll(async () => {
  // The fake first: it destroys any socket still open, so the pool's close cannot wait on one.
  await up.close();
  await realClient.close();
});

function setup(opts: { headroom?: Headroom | null; over?: Partial<ChatServiceDeps> } = {}) {
  const held = heldLimiter();
  const memory = recordingCache(createMemoryCache({ maxEntryBytes: 1 << 20 }));
  const usage: UsageRecord[] = [];
  const inner = opts.headroom ?? createHeadroom({ maxAgeMs: 60_000 });
  const recorded = recordingHeadroom(inner);
  const service = createChatService({
    upstream,
    limiter: held.limiter,
    cache: memory.cache,
    usage: { record: (r) => usage.push(r) },
    limits: { rpm: 100, tpm: 1_000_000 },
    cacheTtlSeconds: 60,
    headroom: opts.headroom === null ? undefined : recorded.headroom,
    onBackgroundError: (err) => backgroundErrors.push(err),
    ...opts.over,
  });
  // `headroom` is for the test to prime (unrecorded); `headroomCalls` holds the service's calls only.
  return { service, ...held, ...memory, usage, headroom: inner, headroomCalls: recorded.calls };
}

/** Polls `cond` (every 5 ms) until true; fails after `timeoutMs`. */
async function waitUntil(cond: () => boolean, what: string, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Lets timers, sockets and promise chains run for a moment (a loopback round trip takes < 5 ms). */
const settle = (ms = 30) => new Promise((resolve) => setTimeout(resolve, ms));

/** Catches the rejection so it is never unhandled while the test does other things first. */
function outcome<T>(p: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; err: unknown }> {
  return p.then(
    (value) => ({ ok: true as const, value }),
    (err: unknown) => ({ ok: false as const, err }),
  );
}

async function readAll(stream: Readable): Promise<string> {
  let text = '';
  for await (const part of stream) text += typeof part === 'string' ? part : (part as Buffer).toString('utf8');
  return text;
}

function json(result: ChatResult): { object: string; model: string; choices: Array<{ message: { content: string } }>; usage: { prompt_tokens: number; completion_tokens: number } } {
  if (result.kind !== 'json') throw new Error(`expected a JSON result, got ${result.kind}`);
  return JSON.parse(result.body);
}

const RATE_LIMIT_HEADERS = {
  'x-ratelimit-limit-requests': '100',
  'x-ratelimit-remaining-requests': '99',
  'x-ratelimit-reset-requests': '600ms',
  'x-ratelimit-limit-tokens': '1000000',
  'x-ratelimit-remaining-tokens': '990000',
  'x-ratelimit-reset-tokens': '2s',
};

// ---------------------------------------------------------------------------------------------

describe('early start with ample headroom', () => {
  it('sends the request upstream before the limit check has answered', async () => {
    const t = setup();
    const key = apiKey();
    t.headroom.note(key.id, AMPLE);
    const body = chatBody();

    const result = outcome(t.service.complete(chatRequest(key, body)));
    // The upstream has the request while the check is still held open.
    await up.waitForRequests(1);
    expect(t.checks).toHaveLength(1);
    expect(t.checks[0].answered).toBe(false);
    expect(up.requests[0].path).toBe('/v1/chat/completions');
    expect(up.requests[0].body).toMatchObject({ model: 'gpt-4o-mini', messages: body.messages });

    t.checks[0].answer(AMPLE);
    const done = await result;
    expect(done.ok).toBe(true);
    expect(up.stats.requests).toBe(1);
    expect(up.requests[0].aborted).toBe(false);
    // Admitted as in flight with the reserved tokens, released once the check answered.
    const reserved = t.checks[0].req.tokens;
    expect(t.headroomCalls.admitEarly).toEqual([{ keyId: key.id, tokens: reserved, result: true }]);
    expect(t.headroomCalls.settled).toEqual([{ keyId: key.id, tokens: reserved }]);
  });

  it('returns the upstream JSON and the rate-limit headers of the decision', async () => {
    const t = setup();
    const key = apiKey();
    t.headroom.note(key.id, AMPLE);
    const req = chatRequest(key, chatBody());

    const pending = t.service.complete(req);
    expect(upstreamCalls).toHaveLength(1); // started synchronously, alongside the check
    await up.waitForRequests(1);
    t.checks[0].answer(AMPLE);
    const result = await pending;

    expect(result.kind).toBe('json');
    expect(result.headers).toEqual({ ...RATE_LIMIT_HEADERS, 'x-cache': 'BYPASS' });
    const answer = json(result);
    expect(answer.object).toBe('chat.completion');
    expect(answer.model).toBe('gpt-4o-mini');
    expect(answer.choices[0].message.content.length).toBeGreaterThan(0);
    expect(answer.usage.prompt_tokens).toBeGreaterThan(0);

    // Accounted like any other request: one 200 row with the upstream's usage, the reservation
    // corrected to it, the decision noted for the key.
    expect(t.usage).toHaveLength(1);
    expect(t.usage[0]).toMatchObject({
      keyId: key.id,
      status: 200,
      cached: false,
      promptTokens: answer.usage.prompt_tokens,
      completionTokens: answer.usage.completion_tokens,
    });
    expect(t.reconciles).toEqual([
      expect.objectContaining({
        check: expect.objectContaining({ keyId: key.id, tokens: t.checks[0].req.tokens }),
        tokens: answer.usage.prompt_tokens + answer.usage.completion_tokens,
      }),
    ]);
    expect(t.headroomCalls.note).toEqual([{ keyId: key.id, decision: AMPLE }]);
    expect(req.stats.upstreamStatus).toBe(200);
    expect(req.stats.upstreamMs).toBeGreaterThan(0);
    expect(req.stats.earlyStart).toBe('used');
    expect(req.stats.cache).toBe('bypass');
  });

  it('notes each allowed decision, so a key that is running short stops starting early', async () => {
    const t = setup();
    t.state.autoAnswer = SCARCE;
    const key = apiKey();
    t.headroom.note(key.id, AMPLE);

    await t.service.complete(chatRequest(key, chatBody()));
    expect(upstreamCalls).toHaveLength(1);
    expect(t.headroomCalls.note).toEqual([{ keyId: key.id, decision: SCARCE }]);
    expect(t.headroomCalls.admitEarly.map((c) => c.result)).toEqual([true]);

    // The next request waits for its check: nothing goes upstream until it answers.
    t.state.autoAnswer = undefined;
    const pending = outcome(t.service.complete(chatRequest(key, chatBody())));
    expect(t.headroomCalls.admitEarly.map((c) => c.result)).toEqual([true, false]);
    expect(upstreamCalls).toHaveLength(1);
    t.checks[1].answer(SCARCE);
    expect((await pending).ok).toBe(true);
    expect(upstreamCalls).toHaveLength(2);
  });

  it('streams: the early response is relayed as SSE ending in [DONE], usage counted', async () => {
    const t = setup();
    const key = apiKey();
    t.headroom.note(key.id, AMPLE);
    const req = chatRequest(key, chatBody({ stream: true }));

    const pending = t.service.complete(req);
    await up.waitForRequests(1);
    expect(t.checks[0].answered).toBe(false);
    // Upstream is always asked for usage, the caller did not ask for it.
    expect(up.requests[0].body).toMatchObject({ stream: true, stream_options: { include_usage: true } });
    expect(up.requests[0].headers.accept).toBe('text/event-stream');

    t.checks[0].answer(AMPLE);
    const result = await pending;
    expect(result.kind).toBe('stream');
    expect(result.headers).toEqual({ ...RATE_LIMIT_HEADERS, 'x-cache': 'BYPASS' });
    if (result.kind !== 'stream') return;
    const text = await readAll(result.stream);

    expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
    const events = text
      .split('\n\n')
      .filter((e) => e.startsWith('data: ') && e !== 'data: [DONE]')
      .map((e) => JSON.parse(e.slice(6)) as { object: string; choices: unknown[] });
    expect(events.length).toBeGreaterThan(2);
    expect(events.every((e) => e.object === 'chat.completion.chunk')).toBe(true);
    // The usage-only chunk the gateway asked for is not passed on to a caller who did not.
    expect(events.some((e) => e.choices.length === 0)).toBe(false);

    await waitUntil(() => t.usage.length === 1, 'the usage row of the stream');
    expect(t.usage[0]).toMatchObject({ keyId: key.id, status: 200, cached: false });
    expect(t.usage[0].promptTokens).toBeGreaterThan(0);
    expect(t.usage[0].completionTokens).toBeGreaterThan(0);
    expect(req.stats.streamOutcome).toBe('completed');
    expect(up.requests[0].aborted).toBe(false);
  });

  it('relays an upstream failure of an early request with the decision headers, as a 502', async () => {
    const t = setup();
    const key = apiKey();
    t.headroom.note(key.id, AMPLE);
    up.queueFaults([{ kind: 'status', status: 500 }]);

    const pending = outcome(t.service.complete(chatRequest(key, chatBody())));
    await up.waitForRequests(1);
    t.checks[0].answer(AMPLE);
    const done = await pending;

    expect(done.ok).toBe(false);
    if (done.ok) return;
    expect(done.err).toMatchObject({ status: 502, headers: expect.objectContaining(RATE_LIMIT_HEADERS) });
    expect(t.usage).toEqual([expect.objectContaining({ status: 502, cached: false })]);
    // The whole reservation is given back.
    expect(t.reconciles).toEqual([
      expect.objectContaining({ check: expect.objectContaining({ tokens: t.checks[0].req.tokens }), tokens: 0 }),
    ]);
  });
});

describe('early start, then the check refuses', () => {
  it('rejects with the 429 and aborts the upstream request it had started', async () => {
    const t = setup();
    const key = apiKey();
    t.headroom.note(key.id, AMPLE);
    up.setFault({ kind: 'hang' });
    const req = chatRequest(key, chatBody());

    const pending = outcome(t.service.complete(req));
    await up.waitForRequests(1);
    expect(up.requests[0].aborted).toBe(false);
    t.checks[0].answer(refused('requests', 1500));
    const done = await pending;

    expect(done.ok).toBe(false);
    if (done.ok) return;
    expect(done.err).toBeInstanceOf(RateLimitError);
    const err = done.err as RateLimitError;
    expect(err.status).toBe(429);
    expect(err.headers['retry-after']).toBe('2');
    expect(err.headers['x-ratelimit-remaining-requests']).toBe('0');
    expect(err.headers['x-ratelimit-limit-requests']).toBe('100');
    expect(err.message).toMatch(/requests per min \(RPM\): Limit 100/);
    expect(req.stats.rateLimited).toBe('requests');

    // The upstream sees its client hang up.
    await up.waitForAbort();
    expect(up.requests).toHaveLength(1);
    expect(up.requests[0].aborted).toBe(true);
    // A refused request is not a success: no usage row for it, nothing reconciled.
    expect(t.usage).toEqual([]);
    expect(t.reconciles).toEqual([]);
    // The in-flight slot taken by the early start is given back.
    expect(t.headroomCalls.settled).toEqual([{ keyId: key.id, tokens: t.checks[0].req.tokens }]);
  });

  it('closes an early stream whose headers had already arrived', async () => {
    const t = setup();
    const key = apiKey();
    t.headroom.note(key.id, AMPLE);
    // Headers at once, then a chunk every 40 ms: the answer is still open when the check refuses.
    up.setFault({ kind: 'slow-stream', delayMs: 40 });
    const req = chatRequest(key, chatBody({ stream: true }));

    const pending = outcome(t.service.complete(req));
    await up.waitForRequests(1);
    await waitUntil(() => upstreamAnswered === 1, 'the upstream response headers');
    t.checks[0].answer(refused('tokens', 200));
    const done = await pending;

    expect(done.ok).toBe(false);
    if (done.ok) return;
    expect(done.err).toBeInstanceOf(RateLimitError);
    expect((done.err as RateLimitError).headers['retry-after']).toBe('1');
    expect(req.stats.rateLimited).toBe('tokens');
    await up.waitForAbort();
    expect(up.requests[0].aborted).toBe(true);
    expect(t.usage).toEqual([]);
  });

  it('a refusal after the upstream already answered still returns nothing but the 429', async () => {
    const t = setup();
    const key = apiKey();
    t.headroom.note(key.id, AMPLE);
    const req = chatRequest(key, chatBody());

    const pending = outcome(t.service.complete(req));
    await up.waitForRequests(1);
    await waitUntil(() => upstreamAnswered === 1, 'the upstream response');
    t.checks[0].answer(refused());
    const done = await pending;

    expect(done.ok).toBe(false);
    if (done.ok) return;
    expect(done.err).toBeInstanceOf(RateLimitError);
    expect(t.usage).toEqual([]);
    expect(t.reconciles).toEqual([]);
    // The cancelled call is not the refused request's: its log line and metrics show only the 429.
    expect(req.stats.earlyStart).toBe('cancelled');
    expect(req.stats.upstreamStatus).toBeUndefined();
    expect(req.stats.upstreamError).toBeUndefined();
    expect(req.stats.upstreamMs).toBe(0);
  });

  it('with a signal of its own, a refusal aborts that signal (no second controller) and the upstream call', async () => {
    const t = setup();
    const key = apiKey();
    t.headroom.note(key.id, AMPLE);
    up.setFault({ kind: 'hang' });
    const own = new AbortController();
    const req = chatRequest(key, chatBody(), { signal: own.signal, abort: () => own.abort() });

    const pending = outcome(t.service.complete(req));
    await up.waitForRequests(1);
    expect(upstreamCalls[0].signal).toBe(own.signal);
    t.checks[0].answer(refused());
    const done = await pending;
    expect(done.ok).toBe(false);
    expect((done as { err: unknown }).err).toBeInstanceOf(RateLimitError);
    expect(own.signal.aborted).toBe(true);
    await up.waitForAbort();
    expect(up.requests[0].aborted).toBe(true);
    expect(req.stats.earlyStart).toBe('cancelled');
    expect(t.usage).toEqual([]);
  });

  it('after a refusal the key starts nothing early until a check allows again', async () => {
    const t = setup();
    const key = apiKey();
    t.headroom.note(key.id, AMPLE);
    up.setFault({ kind: 'hang' });

    const first = outcome(t.service.complete(chatRequest(key, chatBody())));
    await up.waitForRequests(1);
    t.checks[0].answer(refused());
    expect((await first).ok).toBe(false);
    expect(t.headroomCalls.forget).toEqual([key.id]);
    up.setFault(undefined);

    // The stale "ample" view is gone: the next request waits for its own check.
    const second = outcome(t.service.complete(chatRequest(key, chatBody())));
    expect(t.headroomCalls.admitEarly.map((c) => c.result)).toEqual([true, false]);
    expect(upstreamCalls).toHaveLength(1);
    await settle();
    expect(up.stats.requests).toBe(1);
    t.checks[1].answer(AMPLE);
    expect((await second).ok).toBe(true);
    expect(upstreamCalls).toHaveLength(2);

    // Allowed again with ample headroom: early starts resume.
    const third = outcome(t.service.complete(chatRequest(key, chatBody())));
    expect(upstreamCalls).toHaveLength(3);
    t.checks[2].answer(AMPLE);
    expect((await third).ok).toBe(true);
  });

  it('shares a hang-up signal across many requests without piling listeners on it', async () => {
    const t = setup();
    t.state.autoAnswer = AMPLE;
    const key = apiKey();
    t.headroom.note(key.id, AMPLE);
    const caller = new AbortController();
    // One after another, like a batch: each request's link to the signal goes when its body closes.
    for (let i = 0; i < 15; i++) {
      await t.service.complete(chatRequest(key, chatBody(), { signal: caller.signal }));
    }
    await settle();
    // Every one of them started early (an empty list would prove nothing).
    expect(t.headroomCalls.admitEarly.map((c) => c.result)).toEqual(Array(15).fill(true));
    expect(getEventListeners(caller.signal, 'abort')).toHaveLength(0);
  });

  it('a failing check rejects with its error and aborts the upstream request', async () => {
    const t = setup();
    const key = apiKey();
    t.headroom.note(key.id, AMPLE);
    up.setFault({ kind: 'hang' });
    const boom = new Error('limiter store unreachable');

    const pending = outcome(t.service.complete(chatRequest(key, chatBody())));
    await up.waitForRequests(1);
    t.checks[0].fail(boom);
    const done = await pending;

    expect(done).toEqual({ ok: false, err: boom });
    await up.waitForAbort();
    expect(up.requests[0].aborted).toBe(true);
    expect(t.usage).toEqual([]);
    expect(t.headroomCalls.settled).toHaveLength(1);
    expect(t.headroomCalls.note).toEqual([]);
  });

  it('the caller hanging up while the check is out aborts the early upstream request', async () => {
    const t = setup();
    const key = apiKey();
    t.headroom.note(key.id, AMPLE);
    up.setFault({ kind: 'hang' });
    const caller = new AbortController();
    const req = chatRequest(key, chatBody(), { signal: caller.signal });

    const pending = outcome(t.service.complete(req));
    await up.waitForRequests(1);
    caller.abort();
    await up.waitForAbort();
    expect(up.requests[0].aborted).toBe(true);

    t.checks[0].answer(AMPLE);
    const done = await pending;
    expect(done.ok).toBe(false);
    expect(t.usage).toEqual([expect.objectContaining({ status: 499 })]);
    expect(t.reconciles).toEqual([expect.objectContaining({ tokens: 0 })]);
  });
});

describe('no early start', () => {
  type Case = {
    name: string;
    prepare(t: ReturnType<typeof setup>, key: ApiKeyRecord): void;
    key?: Partial<ApiKeyRecord>;
    body?: Partial<ChatCompletionBody>;
    headroom?: () => Headroom | null;
  };
  const staleClock = { t: 0 };
  const cases: Case[] = [
    { name: 'no decision noted for the key yet', prepare: () => undefined },
    {
      name: 'the noted decision is stale',
      headroom: () => createHeadroom({ maxAgeMs: 1000, now: () => staleClock.t }),
      prepare: (t, key) => {
        staleClock.t = 0;
        t.headroom.note(key.id, AMPLE);
        staleClock.t = 1001;
      },
    },
    { name: 'the noted decision left too little', prepare: (t, key) => t.headroom.note(key.id, SCARCE) },
    {
      name: 'the key has a monthly budget',
      key: { monthlyTokenBudget: 10_000_000 },
      prepare: (t, key) => t.headroom.note(key.id, AMPLE),
    },
    {
      name: 'the request is cacheable (temperature 0)',
      body: { temperature: 0 },
      prepare: (t, key) => t.headroom.note(key.id, AMPLE),
    },
    { name: 'the service has no headroom', headroom: () => null, prepare: () => undefined },
  ];

  describe.each(cases)('when $name', (c) => {
    it('sends nothing upstream until the check allows', async () => {
      const t = setup({ headroom: c.headroom?.() });
      const key = apiKey(c.key);
      c.prepare(t, key);
      const req = chatRequest(key, chatBody(c.body));

      const pending = t.service.complete(req);
      expect(t.checks).toHaveLength(1);
      expect(upstreamCalls).toHaveLength(0);
      await settle();
      expect(upstreamCalls).toHaveLength(0);
      expect(up.stats.requests).toBe(0);

      t.checks[0].answer(AMPLE);
      const result = await pending;
      expect(json(result).object).toBe('chat.completion');
      expect(up.stats.requests).toBe(1);
      expect(t.headroomCalls.admitEarly.filter((a) => a.result)).toEqual([]);
      expect(t.headroomCalls.settled).toEqual([]);
    });

    it('a refusal means the upstream never sees the request', async () => {
      const t = setup({ headroom: c.headroom?.() });
      const key = apiKey(c.key);
      c.prepare(t, key);
      const req = chatRequest(key, chatBody(c.body));

      const pending = outcome(t.service.complete(req));
      await settle();
      expect(upstreamCalls).toHaveLength(0);
      t.checks[0].answer(refused(key.monthlyTokenBudget === null ? 'requests' : 'budget'));
      const done = await pending;

      expect(done.ok).toBe(false);
      if (done.ok) return;
      expect(done.err).toMatchObject({ status: 429, headers: expect.objectContaining({ 'retry-after': '2' }) });
      await settle();
      expect(upstreamCalls).toHaveLength(0);
      expect(up.stats.requests).toBe(0);
      expect(t.usage).toEqual([]);
    });
  });
});

describe('cacheable requests', () => {
  it('reads the cache alongside the check, and serves a hit only once the check allowed', async () => {
    const t = setup();
    const key = apiKey();
    t.headroom.note(key.id, AMPLE);
    const body = chatBody({ temperature: 0 });

    // 1. Allowed: a miss, answered upstream and stored.
    t.state.autoAnswer = AMPLE;
    const first = await t.service.complete(chatRequest(key, body));
    expect(first.headers['x-cache']).toBe('MISS');
    expect(up.stats.requests).toBe(1);
    expect(t.sets).toHaveLength(1);

    // 2. Allowed: the stored answer, no upstream call. The read went out before the check answered.
    t.state.autoAnswer = undefined;
    const secondReq = chatRequest(key, body);
    const second = t.service.complete(secondReq);
    expect(t.gets).toHaveLength(2);
    expect(t.checks[1].answered).toBe(false);
    t.checks[1].answer(AMPLE);
    const hit = await second;
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.kind === 'json' && hit.body).toBe(first.kind === 'json' && first.body);
    expect(up.stats.requests).toBe(1);
    expect(t.usage.map((u) => [u.status, u.cached])).toEqual([
      [200, false],
      [200, true],
    ]);

    // 3. Refused: the cached answer is there (and was read) but is not served.
    const thirdReq = chatRequest(key, body);
    const third = outcome(t.service.complete(thirdReq));
    expect(t.gets).toHaveLength(3);
    t.checks[2].answer(refused('tokens', 3000));
    const done = await third;
    expect(done.ok).toBe(false);
    if (done.ok) return;
    expect(done.err).toBeInstanceOf(RateLimitError);
    expect((done.err as RateLimitError).headers['retry-after']).toBe('3');
    expect(thirdReq.stats.cache).toBeUndefined();
    expect(t.usage).toHaveLength(2);
    expect(up.stats.requests).toBe(1);
    expect(upstreamCalls).toHaveLength(1);
  });

  it('a refused streaming request never gets the cached stream either', async () => {
    const t = setup();
    const key = apiKey();
    const body = chatBody({ temperature: 0, stream: true });

    t.state.autoAnswer = AMPLE;
    const first = await t.service.complete(chatRequest(key, body));
    if (first.kind !== 'stream') throw new Error('expected a stream');
    expect((await readAll(first.stream)).endsWith('data: [DONE]\n\n')).toBe(true);
    await waitUntil(() => t.sets.length === 1, 'the stream to be cached');
    expect(t.sets[0].value.kind).toBe('stream');

    t.state.autoAnswer = refused();
    const done = await outcome(t.service.complete(chatRequest(key, body)));
    expect(done.ok).toBe(false);
    expect(done.ok ? undefined : (done.err as RateLimitError).status).toBe(429);
    expect(t.gets).toHaveLength(2);
    expect(up.stats.requests).toBe(1);
  });
});

describe('pricing (the wiring the pipeline takes over)', () => {
  it('reserves the maximum cost, settles and records the actual cost with its token detail', async () => {
    const pricing = createPricing();
    const t = setup({ over: { pricing } });
    t.state.autoAnswer = AMPLE;
    const key = apiKey({ dailyBudgetUsd: 1 });
    const result = json(await t.service.complete(chatRequest(key, chatBody({ max_tokens: 100 }))));
    const check = t.checks[0].req;
    // gpt-4o-mini: the prompt estimate at $0.15 and 100 output tokens at $0.60 per 1M.
    expect(check.costUsd).toBe(pricing.maxCost('gpt-4o-mini', check.tokens - 100, 100));
    const cost = pricing.cost('gpt-4o-mini', { inputTokens: result.usage.prompt_tokens, outputTokens: result.usage.completion_tokens });
    expect(cost).toBeGreaterThan(0);
    await waitUntil(() => t.reconciles.length === 1, 'the settle');
    expect(t.reconciles[0]).toMatchObject({ tokens: result.usage.prompt_tokens + result.usage.completion_tokens, costUsd: cost });
    expect(t.usage).toEqual([
      expect.objectContaining({ costUsd: cost, teamId: null, cachedInputTokens: 0, reasoningTokens: 0, surface: 'chat', status: 200 }),
    ]);
  });

  it('an unpriced model is served, reserves no dollars, records cost null and is counted once', async () => {
    const onUnpriced = jest.fn();
    const t = setup({ over: { pricing: createPricing({ onUnpriced }) } });
    t.state.autoAnswer = AMPLE;
    const result = await t.service.complete(chatRequest(apiKey({ dailyBudgetUsd: 1 }), chatBody({ model: 'my-local-llama' })));
    expect(result.kind).toBe('json');
    expect(t.checks[0].req.costUsd).toBe(0);
    expect(t.usage).toEqual([expect.objectContaining({ model: 'my-local-llama', costUsd: null })]);
    expect(onUnpriced.mock.calls).toEqual([['my-local-llama']]);
  });

  it("refuses a model outside the team's allow-list even when the key allows it", async () => {
    const t = setup();
    const team = { id: randomUUID(), name: 't', rpm: null, tpm: null, monthlyBudgetUsd: null, dailyBudgetUsd: null, models: ['o3'], createdAt: new Date() };
    const err = await t.service.complete(chatRequest(apiKey({ models: ['gpt-4o-mini', 'o3'], team, teamId: team.id }), chatBody())).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 403, code: 'model_not_allowed' });
    expect(t.checks).toHaveLength(0);
  });
});
