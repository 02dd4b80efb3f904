/**
 * End to end, as a user sees it: the official `openai` client against `node dist/server.js`, real
 * Postgres and Redis, and a real HTTP fake upstream. Every answer and error is checked against
 * OpenAI's published OpenAPI document.
 */
import OpenAI from 'openai';
import { startFakeUpstream, type FakeUpstream } from '../../support/fake-upstream';
import { startGateway, runBundle, type GatewayProcess } from '../../support/gateway-process';
import { expectSchema } from '../../support/openapi';
import { createTestDatabase, TEST_REDIS_URL, type TestDatabase } from '../../support/test-db';

const UPSTREAM_KEY = 'sk-upstream-SECRET-e2e-0123456789';
const ADMIN_KEY = 'admin-SECRET-e2e-9876543210';

let up: FakeUpstream;
let db: TestDatabase;
let gw: GatewayProcess;
let key: string;
let client: OpenAI;
const secrets: string[] = [UPSTREAM_KEY, ADMIN_KEY];

async function admin(method: string, path: string, body?: unknown) {
  const res = await fetch(`${gw.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

async function createKey(body: Record<string, unknown>): Promise<string> {
  const res = await admin('POST', '/admin/keys', body);
  expect(res.status).toBe(201);
  secrets.push(res.body.key);
  return res.body.key;
}

async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${gw.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json: json as Record<string, any> };
}

function expectError(res: { status: number; json: unknown }, status: number, type?: string, code?: string | null) {
  expect(res.status).toBe(status);
  expectSchema('ErrorResponse', res.json);
  const e = (res.json as { error: Record<string, unknown> }).error;
  expect(Object.keys(e).sort()).toEqual(['code', 'message', 'param', 'type']);
  if (type) expect(e.type).toBe(type);
  if (code !== undefined) expect(e.code).toBe(code);
  return e;
}

const chat = { model: 'gpt-4o', messages: [{ role: 'user' as const, content: 'Say hello' }] };

beforeAll(async () => {
  up = await startFakeUpstream({ apiKey: UPSTREAM_KEY });
  db = await createTestDatabase({ migrate: false });
  gw = await startGateway({
    env: {
      DATABASE_URL: db.url,
      REDIS_URL: TEST_REDIS_URL,
      OPENAI_BASE_URL: up.url,
      OPENAI_API_KEY: UPSTREAM_KEY,
      ADMIN_API_KEY: ADMIN_KEY,
      UPSTREAM_MAX_RETRIES: '1',
      UPSTREAM_TIMEOUT_MS: '1500',
      UPSTREAM_IDLE_TIMEOUT_MS: '1500',
      // Fault after fault against one deployment: cool down only briefly between tests.
      CIRCUIT_COOLDOWN_MS: '50',
      CIRCUIT_MAX_COOLDOWN_MS: '0',
      BODY_LIMIT_BYTES: '65536',
      DEFAULT_RPM: '100000',
      DEFAULT_TPM: '100000000',
    },
  });
  key = await createKey({ name: 'e2e' });
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: key, maxRetries: 0, timeout: 10_000 });
}, 60_000);

afterEach(() => up.clearFaults());

afterAll(async () => {
  await gw?.stop();
  await up?.close();
  await db?.drop();
});

describe('the official openai client', () => {
  it('lists models', async () => {
    const page = await client.models.list();
    expect(page.data.map((m) => m.id)).toContain('gpt-4o');
    for (const m of page.data) expectSchema('Model', m);
  });

  it('chats, with the upstream key upstream and never the caller key', async () => {
    up.reset();
    const { data, response } = await client.chat.completions
      .create({ ...chat, user: 'passes-through', metadata: { a: 'b' } } as never)
      .withResponse();
    expectSchema('CreateChatCompletionResponse', data);
    expect((data as OpenAI.ChatCompletion).choices[0].message.content).toMatch(/mock answer/);
    expect(response.headers.get('x-request-id')).toBeTruthy();
    expect(response.headers.get('x-cache')).toBe('BYPASS');
    expect(response.headers.get('x-ratelimit-limit-requests')).toBe('100000');
    const seen = up.requests.at(-1)!;
    expect(seen.headers.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
    expect(JSON.stringify(seen.headers)).not.toContain(key);
    // unknown fields reach the upstream untouched
    expect(seen.body).toMatchObject({ user: 'passes-through', metadata: { a: 'b' } });
  });

  it('streams chunk by chunk, ending with [DONE], usage chunk only when asked', async () => {
    const stream = await client.chat.completions.create({ ...chat, stream: true });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks.length).toBeGreaterThan(2);
    for (const c of chunks) expectSchema('CreateChatCompletionStreamResponse', c);
    expect(chunks.some((c) => c.choices.length === 0)).toBe(false);
    // the gateway asked the upstream for usage anyway
    expect((up.requests.at(-1)!.body as any).stream_options).toEqual({ include_usage: true });

    const withUsage = await client.chat.completions.create({ ...chat, stream: true, stream_options: { include_usage: true } });
    const all: OpenAI.ChatCompletionChunk[] = [];
    for await (const c of withUsage) all.push(c);
    expect(all.at(-1)!.usage?.total_tokens).toBeGreaterThan(0);
  });

  it('sends SSE as text/event-stream ending in data: [DONE]', async () => {
    const res = await post('/v1/chat/completions', { ...chat, stream: true });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(res.text.endsWith('data: [DONE]\n\n')).toBe(true);
  });

  it('embeds', async () => {
    const out = await client.embeddings.create({ model: 'text-embedding-3-small', input: ['a', 'b'] });
    expectSchema('CreateEmbeddingResponse', out);
    expect(out.data).toHaveLength(2);
  });

  it('accepts X-API-Key as well as Bearer', async () => {
    const res = await fetch(`${gw.url}/v1/models`, { headers: { 'x-api-key': key } });
    expect(res.status).toBe(200);
  });
});

describe('errors speak ErrorResponse', () => {
  it('400 for malformed JSON', async () => {
    expectError(await post('/v1/chat/completions', '{"model": "gpt-4o", '), 400, 'invalid_request_error');
  });

  it('400 naming the missing or mistyped field', async () => {
    const missing = expectError(await post('/v1/chat/completions', { model: 'gpt-4o' }), 400, 'invalid_request_error');
    expect(missing.param).toBe('messages');
    const typed = expectError(await post('/v1/chat/completions', { ...chat, temperature: 'hot' }), 400);
    expect(typed.param).toBe('temperature');
    const nested = expectError(await post('/v1/chat/completions', { model: 'x', messages: [{ content: 'hi' }] }), 400);
    expect(nested.param).toBe('messages[0].role');
    const notObject = expectError(await post('/v1/chat/completions', '[1,2]'), 400);
    expect(notObject.param).toBeNull();
  });

  it('413 over BODY_LIMIT_BYTES', async () => {
    const big = { ...chat, messages: [{ role: 'user', content: 'x'.repeat(70_000) }] };
    expectError(await post('/v1/chat/completions', big), 413, 'invalid_request_error');
  });

  it('401 for missing, unknown and revoked keys', async () => {
    expectError(await post('/v1/chat/completions', chat, { authorization: '' }), 401, 'invalid_request_error', 'invalid_api_key');
    expectError(await post('/v1/chat/completions', chat, { authorization: 'Bearer sk-llm-nope' }), 401, undefined, 'invalid_api_key');
    await expect(
      new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-wrong', maxRetries: 0 }).models.list(),
    ).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
  });

  it('a revoked key stops working within 5 s', async () => {
    const doomed = await createKey({ name: 'doomed' });
    expect((await post('/v1/chat/completions', chat, { authorization: `Bearer ${doomed}` })).status).toBe(200);
    const list = await admin('GET', '/admin/keys');
    const id = list.body.data.find((k: { name: string }) => k.name === 'doomed').id;
    expect((await admin('DELETE', `/admin/keys/${id}`)).status).toBe(204);
    const started = Date.now();
    let status = 200;
    while (status === 200 && Date.now() - started < 6000) {
      status = (await post('/v1/chat/completions', chat, { authorization: `Bearer ${doomed}` })).status;
      if (status === 200) await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toBe(401);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('403 for a model outside the allow-list', async () => {
    const narrow = await createKey({ name: 'narrow', models: ['gpt-4o-mini'] });
    const res = await post('/v1/chat/completions', chat, { authorization: `Bearer ${narrow}` });
    expectError(res, 403, 'invalid_request_error', 'model_not_allowed');
    const models = await fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${narrow}` } });
    expect(((await models.json()) as { data: Array<{ id: string }> }).data.map((m) => m.id)).toEqual(['gpt-4o-mini']);
  });

  it('404 for unknown routes', async () => {
    expectError(await post('/v1/nothing-here', {}), 404, 'invalid_request_error');
  });

  it('upstream 400 passes through with its status and body', async () => {
    up.setFault({ kind: 'status', status: 400 });
    const res = await post('/v1/chat/completions', chat);
    expectError(res, 400);
  });

  it('upstream 429 stays 429 after retries', async () => {
    up.setFault({ kind: 'status', status: 429, retryAfter: '0' });
    up.reset();
    up.setFault({ kind: 'status', status: 429, retryAfter: '0' });
    const res = await post('/v1/chat/completions', chat);
    expectError(res, 429);
    expect(up.stats.requests).toBe(2); // one try plus UPSTREAM_MAX_RETRIES=1
  });

  it('upstream 500 becomes 502 upstream_error with no internals; a retry can rescue it', async () => {
    up.setFault({ kind: 'status', status: 500 });
    const e = expectError(await post('/v1/chat/completions', chat), 502, 'api_error', 'upstream_error');
    expect(e.message).not.toMatch(/127\.0\.0\.1|localhost|Error:|at /);
    up.clearFaults();
    up.queueFaults([{ kind: 'status', status: 503 }]);
    expect((await post('/v1/chat/completions', chat)).status).toBe(200);
  });

  it('connection reset becomes 502, and is retried', async () => {
    up.setFault({ kind: 'reset' });
    expectError(await post('/v1/chat/completions', chat), 502, 'api_error', 'upstream_error');
    up.clearFaults();
    up.queueFaults([{ kind: 'reset' }]);
    expect((await post('/v1/chat/completions', chat)).status).toBe(200);
  });

  it('upstream timeout becomes 504', async () => {
    up.setFault({ kind: 'hang' });
    expectError(await post('/v1/chat/completions', chat), 504, 'api_error', 'upstream_timeout');
  });

  it('the upstream rejecting our credentials is a 502 that leaks nothing', async () => {
    up.setFault({ kind: 'status', status: 401 });
    const e = expectError(await post('/v1/chat/completions', chat), 502, 'api_error', 'upstream_error');
    expect(e.message).not.toContain('sk-');
  });

  it('the openai client raises typed errors', async () => {
    up.setFault({ kind: 'status', status: 500 });
    await expect(client.chat.completions.create(chat as never)).rejects.toBeInstanceOf(OpenAI.InternalServerError);
  });
});

describe('streams that go wrong', () => {
  it('a malformed upstream event ends the stream with an error event', async () => {
    up.setFault({ kind: 'malformed-stream' });
    const stream = await client.chat.completions.create({ ...chat, stream: true });
    await expect(
      (async () => {
        for await (const _ of stream) void _;
      })(),
    ).rejects.toThrow(/malformed/);
  });

  it('a stream cut halfway ends with an error event, not a hang', async () => {
    up.setFault({ kind: 'cut-stream', afterChunks: 2 });
    const res = await post('/v1/chat/completions', { ...chat, stream: true });
    expect(res.status).toBe(200);
    expect(res.text).toMatch(/data: \{"error":\{"message":"The upstream model server (failed during the stream|ended the stream|broke off)/);
    expect(res.text).not.toContain('[DONE]');
  });

  it('a client hanging up aborts the upstream call', async () => {
    up.reset();
    up.setFault({ kind: 'slow-stream', delayMs: 200 });
    const ac = new AbortController();
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ...chat, stream: true }),
      signal: ac.signal,
    });
    const reader = res.body!.getReader();
    await reader.read();
    ac.abort();
    await up.waitForAbort(3000);
    expect(up.stats.aborted).toBe(1);
  });
});

describe('operations', () => {
  it('echoes a caller x-request-id and generates one otherwise', async () => {
    const res = await post('/v1/chat/completions', chat, { 'x-request-id': 'trace-abc-123' });
    expect(res.headers.get('x-request-id')).toBe('trace-abc-123');
    const gen = await post('/v1/chat/completions', chat);
    expect(gen.headers.get('x-request-id')).toMatch(/^req_/);
  });

  it('admin routes need the admin key and never show secrets after creation', async () => {
    const asClient = await fetch(`${gw.url}/admin/keys`, { headers: { authorization: `Bearer ${key}` } });
    expect(asClient.status).toBe(401);
    const list = await admin('GET', '/admin/keys');
    expect(list.status).toBe(200);
    const text = JSON.stringify(list.body);
    expect(text).not.toContain(key);
    expect(text).not.toMatch(/key_hash|"key":/);
    expectError({ status: 400, json: (await admin('POST', '/admin/keys', { rpm: 5 })).body }, 400);
    expect((await admin('DELETE', '/admin/keys/not-a-uuid')).status).toBe(404);
  });

  it('npm run keys creates a working key from the command line', async () => {
    const out = await runBundle(['keys', 'create', '--name', 'cli', '--rpm', '50'], { DATABASE_URL: db.url });
    expect(out.code).toBe(0);
    const cliKey = /key: (\S+)/.exec(out.stdout)![1];
    secrets.push(cliKey);
    expect((await post('/v1/chat/completions', chat, { authorization: `Bearer ${cliKey}` })).status).toBe(200);
    const bad = await runBundle(['keys', 'create'], { DATABASE_URL: db.url });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--name is required/);
  });

  it('no log line holds a key, the admin token or the upstream key', async () => {
    expect(gw.lines.length).toBeGreaterThan(0);
    for (const line of gw.lines) for (const s of secrets) expect(line).not.toContain(s);
  });
});
