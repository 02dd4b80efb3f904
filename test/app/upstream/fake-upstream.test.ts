import OpenAI from 'openai';
import { Agent, request } from 'undici';
import { startMockUpstream, type MockUpstream } from '../../../app/upstream/mock-upstream';
import { startFakeUpstream, type FakeUpstream } from '../../support/fake-upstream';
import { expectSchema } from '../../support/openapi';

const CHAT = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'Say hello to the fake upstream' }] };
const STREAM = { ...CHAT, stream: true };

let agent: Agent;
beforeAll(() => {
  agent = new Agent({ keepAliveTimeout: 1000 });
});
afterAll(() => agent.close());

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** Set when the body broke off before its end. */
  bodyError?: Error;
}

/** One request with a hard deadline; whatever body arrived is kept even if the connection breaks. */
async function call(base: string, path: string, body?: unknown, timeoutMs = 2000, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await request(`${base}${path}`, {
    dispatcher: agent,
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  let text = '';
  try {
    for await (const part of res.body) text += Buffer.from(part as Buffer).toString('utf8');
    return { status: res.statusCode, headers: res.headers, text };
  } catch (err) {
    return { status: res.statusCode, headers: res.headers, text, bodyError: err as Error };
  }
}

/** The `data:` payloads of an SSE body, in order. */
function events(text: string): string[] {
  return text
    .split('\n\n')
    .filter((e) => e.startsWith('data: '))
    .map((e) => e.slice('data: '.length));
}

describe('fake upstream', () => {
  let up: FakeUpstream;
  beforeAll(async () => {
    up = await startFakeUpstream({ created: 1700000000 });
  });
  afterEach(() => up.reset());
  afterAll(() => up.close());

  it('answers chat, streams, embeddings and models like the mock upstream, and logs requests', async () => {
    expect(up.url).toBe(`http://127.0.0.1:${up.port}/v1`);
    const chat = await call(up.url, '/chat/completions', CHAT, 2000, { authorization: 'Bearer caller-key' });
    expect(chat.status).toBe(200);
    expectSchema('CreateChatCompletionResponse', JSON.parse(chat.text));

    const stream = await call(up.url, '/chat/completions', STREAM);
    expect(stream.headers['content-type']).toMatch(/^text\/event-stream/);
    const data = events(stream.text);
    expect(data.at(-1)).toBe('[DONE]');
    data.slice(0, -1).forEach((d) => expectSchema('CreateChatCompletionStreamResponse', JSON.parse(d)));

    expectSchema('CreateEmbeddingResponse', JSON.parse((await call(up.url, '/embeddings', { model: 'e', input: 'x' })).text));
    expectSchema('ListModelsResponse', JSON.parse((await call(up.url, '/models')).text));

    expect(up.stats.requests).toBe(4);
    expect(up.requests[0]).toMatchObject({ method: 'POST', path: '/v1/chat/completions', body: CHAT, aborted: false });
    expect(up.requests[0].headers.authorization).toBe('Bearer caller-key');
    expect(up.requests[3]).toMatchObject({ method: 'GET', path: '/v1/models', body: undefined });
  });

  it('answers a status fault with an OpenAI error body and retry-after', async () => {
    up.setFault({ kind: 'status', status: 429, retryAfter: '2' });
    const res = await call(up.url, '/chat/completions', CHAT);
    expect(res.status).toBe(429);
    expect(res.headers['retry-after']).toBe('2');
    const body = JSON.parse(res.text);
    expectSchema('ErrorResponse', body);
    expect(body.error.code).toBe('rate_limit_exceeded');

    up.setFault({ kind: 'status', status: 400, body: { error: { message: 'no', type: 'invalid_request_error', param: 'x', code: null } } });
    const custom = await call(up.url, '/embeddings', { model: 'e', input: 'x' });
    expect(custom.status).toBe(400);
    expect(JSON.parse(custom.text).error.param).toBe('x');
  });

  it('consumes queued faults one per request, then the sticky fault, then none', async () => {
    up.setFault({ kind: 'status', status: 500 });
    up.queueFaults([{ kind: 'status', status: 503 }, { kind: 'none' }]);
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await call(up.url, '/chat/completions', CHAT)).status);
    expect(statuses).toEqual([503, 200, 500]);
    up.clearFaults();
    expect((await call(up.url, '/chat/completions', CHAT)).status).toBe(200);
    expect(up.requests.map((r) => r.fault.kind)).toEqual(['status', 'none', 'status', 'none']);
  });

  it('hangs until the client gives up, and counts the hang-up', async () => {
    up.setFault({ kind: 'hang' });
    const started = Date.now();
    await expect(call(up.url, '/chat/completions', CHAT, 150)).rejects.toThrow();
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    await up.waitForAbort(1000);
    expect(up.stats.aborted).toBe(1);
    expect(up.requests[0].aborted).toBe(true);
  });

  it('spaces out chunks with slow-stream and notices a client leaving mid-stream', async () => {
    up.setFault({ kind: 'slow-stream', delayMs: 20 });
    const started = Date.now();
    const res = await call(up.url, '/chat/completions', STREAM);
    const count = events(res.text).length;
    expect(events(res.text).at(-1)).toBe('[DONE]');
    expect(Date.now() - started).toBeGreaterThanOrEqual(20 * (count - 2));

    up.setFault({ kind: 'slow-stream', delayMs: 200 });
    const cut = await call(up.url, '/chat/completions', STREAM, 100);
    expect(cut.bodyError).toBeDefined();
    expect(events(cut.text)).toHaveLength(1);
    await up.waitForAbort(1000);
  });

  it('injects a non-JSON event with malformed-stream and still finishes', async () => {
    up.setFault({ kind: 'malformed-stream' });
    const data = events((await call(up.url, '/chat/completions', STREAM)).text);
    const broken = data.filter((d) => {
      if (d === '[DONE]') return false;
      try {
        JSON.parse(d);
        return false;
      } catch {
        return true;
      }
    });
    expect(broken).toHaveLength(1);
    expect(data.at(-1)).toBe('[DONE]');

    const json = await call(up.url, '/chat/completions', CHAT);
    expect(json.status).toBe(200);
    expect(() => JSON.parse(json.text)).toThrow();
  });

  it('cuts a stream after some chunks without [DONE]', async () => {
    up.setFault({ kind: 'cut-stream', afterChunks: 2 });
    const res = await call(up.url, '/chat/completions', STREAM);
    expect(res.status).toBe(200);
    expect(res.bodyError).toBeDefined();
    const data = events(res.text);
    expect(data).toHaveLength(2);
    expect(data).not.toContain('[DONE]');

    const json = await call(up.url, '/chat/completions', CHAT);
    expect(json.bodyError).toBeDefined();
    expect(up.stats.aborted).toBe(0);
  });

  it('resets the connection without answering', async () => {
    up.setFault({ kind: 'reset' });
    await expect(call(up.url, '/chat/completions', CHAT)).rejects.toThrow();
    expect(up.stats).toMatchObject({ requests: 1, aborted: 0 });
  });

  it('delays the answer, and counts a client that leaves during the delay', async () => {
    up.setFault({ kind: 'delay', ms: 100 });
    const started = Date.now();
    expect((await call(up.url, '/chat/completions', CHAT)).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(95);

    up.setFault({ kind: 'delay', ms: 1000 });
    await expect(call(up.url, '/chat/completions', CHAT, 50)).rejects.toThrow();
    await up.waitForAbort(1000);
  });

  it('sends an error event mid-stream with stream-error', async () => {
    up.setFault({ kind: 'stream-error' });
    const res = await call(up.url, '/chat/completions', STREAM);
    expect(res.bodyError).toBeUndefined();
    const data = events(res.text);
    expect(data).not.toContain('[DONE]');
    const last = JSON.parse(data.at(-1)!);
    expectSchema('ErrorResponse', last);
    expect(data.slice(0, -1)).toHaveLength(2);
  });

  it('echoes the credential it was sent in every field with echo-credential, streamed and not', async () => {
    const secret = 'vllm-token-echo-0123456789';
    up.setFault({ kind: 'echo-credential', status: 422 });
    const plain = await call(up.url, '/chat/completions', CHAT, 2000, { authorization: `Bearer ${secret}` });
    expect(plain.status).toBe(422);
    const e = JSON.parse(plain.text).error;
    for (const field of ['type', 'param', 'code']) expect(e[field]).toBe(secret);
    expect(e.message).toContain(secret);
    expect(e.message).toContain(Buffer.from(secret).toString('base64'));

    const streamed = await call(up.url, '/chat/completions', STREAM, 2000, { 'x-api-key': secret });
    expect(streamed.status).toBe(200);
    expect(streamed.text).toContain(`: debug auth=Bearer ${secret}`);
    // The error event starts with a comment line carrying the credential in base64.
    const lastEvent = streamed.text.split('\n\n').filter(Boolean).at(-1)!;
    expect(lastEvent.split('\n')[0]).toBe(`: key ${Buffer.from(secret).toString('base64')}`);
    expect(JSON.parse(lastEvent.split('\n')[1].slice('data: '.length)).error.code).toBe(secret);
    expect(streamed.text).not.toContain('[DONE]');
  });

  it('times out waiting for an abort that never comes', async () => {
    await expect(up.waitForAbort(30)).rejects.toThrow(/timed out/);
  });
});

describe('fake upstream with a required key', () => {
  it('answers 401 unless the expected upstream key is sent', async () => {
    const up = await startFakeUpstream({ apiKey: 'sk-upstream' });
    try {
      const denied = await call(up.url, '/chat/completions', CHAT, 2000, { authorization: 'Bearer caller-key' });
      expect(denied.status).toBe(401);
      expect(JSON.parse(denied.text).error.code).toBe('invalid_api_key');
      const ok = await call(up.url, '/chat/completions', CHAT, 2000, { authorization: 'Bearer sk-upstream' });
      expect(ok.status).toBe(200);
      up.requireApiKey(undefined);
      expect((await call(up.url, '/models')).status).toBe(200);
    } finally {
      await up.close();
    }
  });

  it('closes promptly while a request hangs', async () => {
    const up = await startFakeUpstream();
    up.setFault({ kind: 'hang' });
    const pending = call(up.url, '/chat/completions', CHAT, 5000).catch((err: Error) => err);
    await up.waitForRequests(1);
    expect(up.stats.openConnections).toBeGreaterThanOrEqual(1);
    const started = Date.now();
    await up.close();
    expect(Date.now() - started).toBeLessThan(500);
    expect(await pending).toBeInstanceOf(Error);
  });
});

describe('mock upstream', () => {
  let mock: MockUpstream;
  let client: OpenAI;
  beforeAll(async () => {
    mock = await startMockUpstream();
    client = new OpenAI({ baseURL: mock.url, apiKey: 'unused', maxRetries: 0, timeout: 2000 });
  });
  afterAll(() => mock.close());

  it('serves chat completions to the openai client', async () => {
    const res = await client.chat.completions.create({ ...CHAT, messages: [{ role: 'user', content: 'Hello there' }] });
    expectSchema('CreateChatCompletionResponse', res);
    expect(res.choices[0].message.content).toBe('This is a mock answer to: Hello there');
  });

  it('streams chat completions to the openai client', async () => {
    const stream = await client.chat.completions.create({ ...CHAT, stream: true, stream_options: { include_usage: true } });
    let text = '';
    let usage;
    for await (const chunk of stream) {
      expectSchema('CreateChatCompletionStreamResponse', chunk);
      text += chunk.choices[0]?.delta.content ?? '';
      usage = chunk.usage ?? usage;
    }
    expect(text).toBe('This is a mock answer to: Say hello to the fake upstream');
    expect(usage).toMatchObject({ completion_tokens: 12 });
  });

  it('serves embeddings (the client asks for base64) and models', async () => {
    const emb = await client.embeddings.create({ model: 'text-embedding-3-small', input: ['a', 'b'], dimensions: 4 });
    expect(emb.data).toHaveLength(2);
    expect(emb.data[0].embedding).toHaveLength(4);
    expectSchema('CreateEmbeddingResponse', emb);

    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toContain('gpt-4o');
    expect((await client.models.retrieve('gpt-4o-mini')).id).toBe('gpt-4o-mini');
  });

  it('answers unknown routes with 404 and bad JSON with 400, as ErrorResponse', async () => {
    const missing = await call(mock.url, '/nope');
    expect(missing.status).toBe(404);
    expectSchema('ErrorResponse', JSON.parse(missing.text));
    expect(JSON.parse(missing.text).error.message).toBe('Invalid URL (GET /v1/nope)');

    const bad = await call(mock.url, '/chat/completions', '{"model":');
    expect(bad.status).toBe(400);
    expectSchema('ErrorResponse', JSON.parse(bad.text));

    await expect(client.chat.completions.create({ model: 'gpt-4o', messages: [] })).rejects.toMatchObject({
      status: 400,
      param: 'messages',
    });
  });
});
