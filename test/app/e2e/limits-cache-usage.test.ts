/**
 * Limits, budgets, cache, usage, readiness and batch through running gateways on the real Redis and
 * Postgres. Two gateway processes share one Redis to show limits hold across replicas.
 */
import OpenAI from 'openai';
import { startFakeUpstream, type FakeUpstream } from '../../support/fake-upstream';
import { createKeyVia, type GatewayProcess, startGateway } from '../../support/gateway-process';
import { expectSchema } from '../../support/openapi';
import { createTestDatabase, TEST_REDIS_URL, type TestDatabase } from '../../support/test-db';

const ADMIN_KEY = 'admin-limits-e2e-secret';
const chat = { model: 'gpt-4o', messages: [{ role: 'user' as const, content: 'Count to three' }] };

let up: FakeUpstream;
let db: TestDatabase;
let a: GatewayProcess;
let b: GatewayProcess;

async function createKey(body: Record<string, unknown>): Promise<{ id: string; key: string }> {
  return createKeyVia(a.url, ADMIN_KEY, { name: 'k', ...body });
}

async function post(gw: GatewayProcess, key: string, body: unknown, headers: Record<string, string> = {}, path = '/v1/chat/completions') {
  const res = await fetch(`${gw.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: JSON.parse(text) as Record<string, any> };
}

const env = (extra: Record<string, string> = {}) => ({
  DATABASE_URL: db.url,
  REDIS_URL: TEST_REDIS_URL,
  OPENAI_BASE_URL: up.url,
  OPENAI_API_KEY: 'sk-upstream-limits',
  ADMIN_API_KEY: ADMIN_KEY,
  BATCH_MAX_ITEMS: '6',
  BATCH_MAX_CONCURRENCY: '3',
  ...extra,
});

beforeAll(async () => {
  up = await startFakeUpstream();
  db = await createTestDatabase();
  [a, b] = await Promise.all([startGateway({ env: env() }), startGateway({ env: env() })]);
}, 60_000);

afterEach(() => up.clearFaults());

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await up?.close();
  await db?.drop();
});

describe('rate limits', () => {
  it('eight simultaneous requests against rpm=5 give exactly five 200s and three 429s', async () => {
    const { key } = await createKey({ rpm: 5 });
    const results = await Promise.all(Array.from({ length: 8 }, () => post(a, key, chat)));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429, 429]);
    const refused = results.find((r) => r.status === 429)!;
    expectSchema('ErrorResponse', refused.json);
    expect(refused.json.error).toMatchObject({ type: 'rate_limit_error', code: 'rate_limit_exceeded' });
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(refused.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    const ok = results.find((r) => r.status === 200)!;
    for (const h of ['limit', 'remaining', 'reset']) {
      expect(ok.headers.get(`x-ratelimit-${h}-requests`)).toBeTruthy();
      expect(ok.headers.get(`x-ratelimit-${h}-tokens`)).toBeTruthy();
    }
    expect(ok.headers.get('x-ratelimit-limit-requests')).toBe('5');
  });

  it('one limit holds across two gateway processes: 20 requests at rpm=10 → exactly 10 pass', async () => {
    const { key } = await createKey({ rpm: 10 });
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => post(i % 2 ? a : b, key, chat)));
    expect(results.filter((r) => r.status === 200)).toHaveLength(10);
    expect(results.filter((r) => r.status === 429)).toHaveLength(10);
  });

  it('tpm: a request whose reservation exceeds what is left is refused with rate_limit_exceeded', async () => {
    const { key } = await createKey({ tpm: 200 });
    // Reserves ~11 prompt + 185 = 196 of 200; reconciled to the ~17 really used afterwards.
    const first = await post(a, key, { ...chat, max_tokens: 185 });
    expect(first.status).toBe(200);
    const second = await post(a, key, { ...chat, max_tokens: 185 });
    expect(second.status).toBe(429);
    expect(second.json.error.code).toBe('rate_limit_exceeded');
    expect(second.json.error.message).toMatch(/tokens per min/);
    // The first request's reservation was reconciled down to its real usage, so a small one fits.
    expect((await post(a, key, { ...chat, max_tokens: 5 })).status).toBe(200);
  });

  it('monthly budget: once spent, 429 insufficient_quota', async () => {
    const { key } = await createKey({ monthly_token_budget: 60 });
    const statuses: number[] = [];
    let refusal: Record<string, any> | undefined;
    for (let i = 0; i < 10 && !refusal; i++) {
      const r = await post(a, key, { ...chat, max_tokens: 10 });
      statuses.push(r.status);
      if (r.status === 429) refusal = r.json;
    }
    expect(statuses[0]).toBe(200);
    expect(refusal?.error).toMatchObject({ type: 'insufficient_quota', code: 'insufficient_quota' });
  });
});

describe('response cache', () => {
  const deterministic = { ...chat, temperature: 0 };

  it('answers a repeated temperature-0 request from the cache without calling the upstream', async () => {
    const { key } = await createKey({});
    const first = await post(a, key, deterministic);
    expect(first.headers.get('x-cache')).toBe('MISS');
    const before = up.stats.requests;
    // The answer is stored in the background once it has been read: give the write a moment to land
    // before another replica asks for it (under a loaded machine it can trail the response).
    await new Promise((resolve) => setTimeout(resolve, 100));
    const second = await post(b, key, deterministic); // another replica: the cache is shared
    expect(second.headers.get('x-cache')).toBe('HIT');
    expect(second.json).toEqual(first.json);
    expect(up.stats.requests).toBe(before);
  });

  it('never crosses keys, and skips on Cache-Control: no-cache and non-zero temperature', async () => {
    const one = await createKey({});
    const two = await createKey({});
    const body = { ...deterministic, messages: [{ role: 'user', content: 'tenant check' }] };
    expect((await post(a, one.key, body)).headers.get('x-cache')).toBe('MISS');
    expect((await post(a, one.key, body)).headers.get('x-cache')).toBe('HIT');
    expect((await post(a, two.key, body)).headers.get('x-cache')).toBe('MISS');
    expect((await post(a, one.key, body, { 'cache-control': 'no-cache' })).headers.get('x-cache')).toBe('BYPASS');
    expect((await post(a, one.key, { ...body, temperature: 0.7 })).headers.get('x-cache')).toBe('BYPASS');
    expect((await post(a, one.key, chat)).headers.get('x-cache')).toBe('BYPASS');
  });

  it('replays a cached stream that the openai client parses', async () => {
    const { key } = await createKey({});
    const client = new OpenAI({ baseURL: `${a.url}/v1`, apiKey: key, maxRetries: 0 });
    const body = { ...deterministic, messages: [{ role: 'user' as const, content: 'stream me once' }], stream: true as const };
    const collect = async () => {
      const { data, response } = await client.chat.completions.create(body).withResponse();
      let text = '';
      for await (const c of data) {
        expectSchema('CreateChatCompletionStreamResponse', c);
        text += c.choices[0]?.delta?.content ?? '';
      }
      return { text, cache: response.headers.get('x-cache') };
    };
    const first = await collect();
    const before = up.stats.requests;
    const second = await collect();
    expect(first.cache).toBe('MISS');
    expect(second).toEqual({ text: first.text, cache: 'HIT' });
    expect(up.stats.requests).toBe(before);
  });
});

describe('usage accounting', () => {
  it('totals match the requests sent, per model, with cached requests counted', async () => {
    const { id, key } = await createKey({});
    const answers = [
      await post(a, key, chat),
      await post(b, key, { ...chat, model: 'gpt-4o-mini' }),
      await post(a, key, { ...chat, temperature: 0 }),
      await post(a, key, { ...chat, temperature: 0 }),
    ];
    const usage = answers.map((r) => r.json.usage as { prompt_tokens: number; completion_tokens: number });
    await new Promise((r) => setTimeout(r, 1500)); // one flush interval
    const res = await fetch(`${a.url}/admin/usage?key_id=${id}`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    const summary = (await res.json()) as Record<string, any>;
    expect(summary).toMatchObject({
      requests: 4,
      cached_requests: 1,
      prompt_tokens: usage.reduce((s, u) => s + u.prompt_tokens, 0),
      completion_tokens: usage.reduce((s, u) => s + u.completion_tokens, 0),
    });
    expect(summary.total_tokens).toBe(summary.prompt_tokens + summary.completion_tokens);
    expect(summary.by_model['gpt-4o'].requests).toBe(3);
    expect(summary.by_model['gpt-4o-mini'].requests).toBe(1);
  });

  it('rejects a bad query with a 400', async () => {
    const res = await fetch(`${a.url}/admin/usage?since=yesterday`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    expect(res.status).toBe(400);
    expectSchema('ErrorResponse', await res.json());
  });
});

describe('batch', () => {
  it('answers in request order; one bad item does not sink the rest', async () => {
    const { key } = await createKey({});
    const res = await post(a, key, {
      requests: [
        { ...chat, messages: [{ role: 'user', content: 'first' }] },
        { model: 'gpt-4o' },
        { ...chat, messages: [{ role: 'user', content: 'third' }] },
      ],
    }, {}, '/v1/batch');
    expect(res.status).toBe(200);
    const results = res.json.results as Array<{ status: number; body: any }>;
    expect(results.map((r) => r.status)).toEqual([200, 400, 200]);
    expect(results[0].body.choices[0].message.content).toMatch(/first/);
    expect(results[2].body.choices[0].message.content).toMatch(/third/);
    expectSchema('ErrorResponse', results[1].body);
    expect(results[1].body.error.param).toBe('messages');
  });

  it('keeps at most max_concurrency upstream calls in flight', async () => {
    const { key } = await createKey({});
    up.setFault({ kind: 'delay', ms: 300 });
    const started = Date.now();
    const res = await post(a, key, { requests: Array.from({ length: 4 }, () => chat), max_concurrency: 2 }, {}, '/v1/batch');
    const took = Date.now() - started;
    expect(res.json.results.map((r: { status: number }) => r.status)).toEqual([200, 200, 200, 200]);
    expect(took).toBeGreaterThanOrEqual(600); // two waves of two
    expect(took).toBeLessThan(1150);
  });

  it('applies limits per item and refuses batches over BATCH_MAX_ITEMS', async () => {
    const { key } = await createKey({ rpm: 2 });
    const res = await post(a, key, { requests: [chat, chat, chat] }, {}, '/v1/batch');
    expect(res.json.results.map((r: { status: number }) => r.status).sort()).toEqual([200, 200, 429]);
    const tooMany = await post(a, key, { requests: Array.from({ length: 7 }, () => chat) }, {}, '/v1/batch');
    expect(tooMany.status).toBe(400);
    expect(tooMany.json.error.param).toBe('requests');
  });
});

describe('readiness and Redis faults', () => {
  it('/ready reports every dependency', async () => {
    const res = await fetch(`${a.url}/ready`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, any>;
    for (const c of ['database', 'redis', 'upstream']) {
      expect(body.checks[c]).toMatchObject({ ok: true });
      expect(typeof body.checks[c].latency_ms).toBe('number');
    }
  });

  it('Redis at a closed port: /health 200, /ready 503, chat still served', async () => {
    const gw = await startGateway({ env: env({ REDIS_URL: 'redis://127.0.0.1:1' }) });
    try {
      const { key } = await createKey({});
      expect((await fetch(`${gw.url}/health`)).status).toBe(200);
      const ready = await fetch(`${gw.url}/ready`);
      expect(ready.status).toBe(503);
      const body = (await ready.json()) as Record<string, any>;
      expect(body.checks.redis.ok).toBe(false);
      expect(JSON.stringify(body)).not.toMatch(/127\.0\.0\.1|:1\b/);
      const started = Date.now();
      const answer = await post(gw, key, { ...chat, temperature: 0 });
      expect(answer.status).toBe(200);
      expect(answer.headers.get('x-cache')).toBe('MISS'); // a cache outage reads as a miss
      expect(Date.now() - started).toBeLessThan(1000);
    } finally {
      await gw.stop();
    }
  });

  it('RATE_LIMIT_FAIL_OPEN=false answers 503 while Redis is down', async () => {
    const gw = await startGateway({ env: env({ REDIS_URL: 'redis://127.0.0.1:1', RATE_LIMIT_FAIL_OPEN: 'false' }) });
    try {
      const { key } = await createKey({});
      const res = await post(gw, key, chat);
      expect(res.status).toBe(503);
      expectSchema('ErrorResponse', res.json);
      expect(res.json.error.type).toBe('api_error');
    } finally {
      await gw.stop();
    }
  });
});
