/**
 * The surfaces real clients use, end to end: the official `openai` client's Responses API, legacy
 * completions, moderations and models.retrieve; the Vercel AI SDK's default model (the Responses
 * API) with a tool; and the OpenAI Agents SDK's `run()`; all against `node dist/server.js` in front
 * of a fake upstream speaking OpenAI's protocol. Answers and stream events are checked against
 * OpenAI's published schemas; response ids and stored chat completions belong to the key that made them.
 */
import { createOpenAI } from '@ai-sdk/openai';
import { Agent, run, setDefaultOpenAIClient, setOpenAIAPI, setTracingDisabled, tool as agentTool } from '@openai/agents';
import { generateText, jsonSchema, stepCountIs, streamText, tool } from 'ai';
import OpenAI from 'openai';
import { z } from 'zod';
import { startFakeUpstream, type FakeUpstream } from '../../support/fake-upstream';
import { createKeyVia, type GatewayProcess, startGateway } from '../../support/gateway-process';
import { expectSchema } from '../../support/openapi';
import { createTestDatabase, TEST_REDIS_URL, type TestDatabase } from '../../support/test-db';

const UPSTREAM_KEY = 'sk-upstream-surfaces-0123456789';
const ADMIN_KEY = 'admin-surfaces-9876543210';

let up: FakeUpstream;
let db: TestDatabase;
let gw: GatewayProcess;
let key: string;
let client: OpenAI;
let other: OpenAI;

async function createKey(body: Record<string, unknown>): Promise<string> {
  return (await createKeyVia(gw.url, ADMIN_KEY, body)).key;
}

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
      DEFAULT_RPM: '100000',
      DEFAULT_TPM: '100000000',
    },
  });
  key = await createKey({ name: 'surfaces' });
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: key, maxRetries: 0, timeout: 20_000 });
  other = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: await createKey({ name: 'other' }), maxRetries: 0, timeout: 20_000 });
}, 60_000);

afterAll(async () => {
  await gw?.stop();
  await up?.close();
  await db?.drop();
});

describe('the Responses API with the official openai client', () => {
  it('creates a response', async () => {
    const response = await client.responses.create({ model: 'gpt-4o', input: 'Say hello', instructions: 'Be brief.' });
    expectSchema('Response', response);
    expect(response.output_text).toMatch(/mock answer/);
    expect(response.usage?.input_tokens).toBeGreaterThan(0);
    const seen = up.requests.at(-1)!;
    expect(seen.path).toBe('/v1/responses');
    expect(seen.headers.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
  });

  it('streams events that each match ResponseStreamEvent, ending with response.completed', async () => {
    const stream = await client.responses.create({ model: 'gpt-4o', input: 'Count to three', stream: true });
    const types: string[] = [];
    for await (const event of stream) {
      expectSchema('ResponseStreamEvent', event);
      types.push(event.type);
    }
    expect(types[0]).toBe('response.created');
    expect(types).toContain('response.output_text.delta');
    expect(types.at(-1)).toBe('response.completed');
  });

  it('calls a function tool and takes its output back', async () => {
    const tools: OpenAI.Responses.Tool[] = [
      {
        type: 'function',
        name: 'get_weather',
        description: 'Weather for a city',
        parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false },
        strict: true,
      },
    ];
    const first = await client.responses.create({ model: 'gpt-4o', input: 'Weather in Paris?', tools });
    expectSchema('Response', first);
    const call = first.output.find((o) => o.type === 'function_call') as OpenAI.Responses.ResponseFunctionToolCall;
    expect(call).toMatchObject({ name: 'get_weather' });
    expect(JSON.parse(call.arguments)).toEqual({ city: 'mock' });
    const second = await client.responses.create({
      model: 'gpt-4o',
      tools,
      input: [
        { role: 'user', content: 'Weather in Paris?' },
        call,
        { type: 'function_call_output', call_id: call.call_id, output: '{"temp": 21}' },
      ],
    });
    expectSchema('Response', second);
    expect(second.output_text).toMatch(/mock answer/);
  });

  it('answers structured output asked for with text.format', async () => {
    const response = await client.responses.create({
      model: 'gpt-4o',
      input: 'A person',
      text: {
        format: {
          type: 'json_schema',
          name: 'person',
          strict: true,
          schema: { type: 'object', properties: { name: { type: 'string' }, age: { type: 'integer' } }, required: ['name', 'age'], additionalProperties: false },
        },
      },
    });
    expectSchema('Response', response);
    expect(JSON.parse(response.output_text)).toEqual({ name: 'mock', age: 1 });
  });

  it('retrieves, lists input items, cancels and deletes its own response; another key gets 404 on each', async () => {
    const created = await client.responses.create({ model: 'gpt-4o', input: 'Remember me' });
    const got = await client.responses.retrieve(created.id);
    expectSchema('Response', got);
    expect(got.id).toBe(created.id);
    const items = await client.responses.inputItems.list(created.id);
    for (const item of items.data) expectSchema('ItemResource', item);
    expect(items.data.length).toBeGreaterThan(0);

    for (const attempt of [
      () => other.responses.retrieve(created.id),
      () => other.responses.inputItems.list(created.id),
      () => other.responses.cancel(created.id),
      () => other.responses.delete(created.id),
      () => other.responses.create({ model: 'gpt-4o', input: 'continue', previous_response_id: created.id }),
    ]) {
      const err = await attempt().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.NotFoundError);
      expectSchema('ErrorResponse', { error: (err as InstanceType<typeof OpenAI.APIError>).error });
    }
    const followUp = await client.responses.create({ model: 'gpt-4o', input: 'continue', previous_response_id: created.id });
    expectSchema('Response', followUp);

    const cancelled = await client.responses.cancel(created.id);
    expect(cancelled.id).toBe(created.id);
    await client.responses.delete(created.id);
    await expect(client.responses.retrieve(created.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('counts input tokens', async () => {
    const res = await fetch(`${gw.url}/v1/responses/input_tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', input: 'Hello world, how are you?' }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ object: 'response.input_tokens', input_tokens: 7 });
  });
});

describe('stored chat completions with the official openai client', () => {
  const ask = { model: 'gpt-4o', messages: [{ role: 'user' as const, content: 'Remember me' }] };
  // A stored completion carries its metadata; openai-node's ChatCompletion type does not declare it.
  const metadataOf = (completion: object) => (completion as { metadata?: unknown }).metadata;

  it('retrieves, updates, lists the messages of and deletes its own; another key gets 404 on each', async () => {
    const created = await client.chat.completions.create({ ...ask, store: true, metadata: { topic: 'first' } });
    expectSchema('CreateChatCompletionResponse', created);
    const got = await client.chat.completions.retrieve(created.id);
    expectSchema('CreateChatCompletionResponse', got);
    expect(got.id).toBe(created.id);
    const updated = await client.chat.completions.update(created.id, { metadata: { topic: 'second' } });
    expectSchema('CreateChatCompletionResponse', updated);
    expect(metadataOf(updated)).toEqual({ topic: 'second' });
    const messages = await client.chat.completions.messages.list(created.id);
    expect(messages.data).toEqual([expect.objectContaining({ role: 'user', content: 'Remember me', id: expect.any(String) })]);

    for (const attempt of [
      () => other.chat.completions.retrieve(created.id),
      () => other.chat.completions.update(created.id, { metadata: { topic: 'stolen' } }),
      () => other.chat.completions.messages.list(created.id),
      () => other.chat.completions.delete(created.id),
    ]) {
      const err = await attempt().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.NotFoundError);
      expectSchema('ErrorResponse', { error: (err as InstanceType<typeof OpenAI.APIError>).error });
    }
    // The other key's update never reached the provider.
    expect(metadataOf(await client.chat.completions.retrieve(created.id))).toEqual({ topic: 'second' });

    const deleted = await client.chat.completions.delete(created.id);
    expectSchema('ChatCompletionDeleted', deleted);
    expect(deleted).toEqual({ object: 'chat.completion.deleted', id: created.id, deleted: true });
    await expect(client.chat.completions.retrieve(created.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('knows a streamed stored completion by the id its chunks carry', async () => {
    const stream = await client.chat.completions.create({ ...ask, store: true, stream: true });
    let id = '';
    for await (const chunk of stream) id = chunk.id;
    const got = await client.chat.completions.retrieve(id);
    expect(got.id).toBe(id);
    await expect(other.chat.completions.retrieve(id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('a completion not stored is no one\'s: 404, and a stored one is never served from the cache', async () => {
    const plain = await client.chat.completions.create(ask);
    await expect(client.chat.completions.retrieve(plain.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    const deterministic = { ...ask, temperature: 0, store: true };
    const first = await client.chat.completions.create(deterministic).withResponse();
    const second = await client.chat.completions.create(deterministic).withResponse();
    expect(second.response.headers.get('x-cache')).toBe('BYPASS');
    expect(second.data.id).not.toBe(first.data.id);
  });
});

describe('other OpenAI surfaces', () => {
  it('legacy completions, streamed and not', async () => {
    const done = await client.completions.create({ model: 'gpt-3.5-turbo-instruct', prompt: 'Say hi', max_tokens: 20 });
    expectSchema('CreateCompletionResponse', done);
    const stream = await client.completions.create({ model: 'gpt-3.5-turbo-instruct', prompt: 'Say hi', stream: true });
    let text = '';
    // OpenAI publishes no schema for streamed completion chunks (they carry finish_reason: null
    // until the last); each is checked for the fields clients read.
    for await (const chunk of stream) {
      expect(chunk).toMatchObject({ object: 'text_completion', model: 'gpt-3.5-turbo-instruct', choices: expect.any(Array) });
      text += chunk.choices[0]?.text ?? '';
    }
    expect(text).toMatch(/mock answer/);
  });

  it('moderations', async () => {
    const result = await client.moderations.create({ input: 'I like cats' });
    expectSchema('CreateModerationResponse', result);
    expect(up.requests.at(-1)!.body).toMatchObject({ model: 'omni-moderation-latest' });
  });

  it('models.retrieve, narrowed by the allow-list', async () => {
    const model = await client.models.retrieve('gpt-4o');
    expectSchema('Model', model);
    expect(model.id).toBe('gpt-4o');
    const narrow = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: await createKey({ name: 'narrow', models: ['gpt-4o-mini'] }), maxRetries: 0 });
    await expect(narrow.models.retrieve('gpt-4o')).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(client.models.retrieve('no-such-model')).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('multipart and unserved routes answer 404 in OpenAI shape, never a JSON parse error', async () => {
    const form = new FormData();
    form.append('model', 'whisper-1');
    form.append('file', new Blob([Buffer.from('RIFF')]), 'a.wav');
    for (const [path, body] of [
      ['/v1/audio/transcriptions', form],
      ['/v1/images/generations', JSON.stringify({ prompt: 'x' })],
      ['/v1/audio/speech', JSON.stringify({ input: 'x' })],
    ] as const) {
      const res = await fetch(`${gw.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${key}` }, body });
      expect(res.status).toBe(404);
      const json = await res.json();
      expectSchema('ErrorResponse', json);
      expect((json as { error: { code: string } }).error.code).toBe('unknown_url');
    }
  });
});

describe('the Vercel AI SDK, default model (Responses API)', () => {
  const provider = () => createOpenAI({ baseURL: `${gw.url}/v1`, apiKey: key });
  const weather = tool({
    description: 'Weather for a city',
    inputSchema: jsonSchema<{ city: string }>({ type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false }),
    execute: async ({ city }) => ({ city, temperature: 21 }),
  });

  it('generateText with a tool: calls it, then answers', async () => {
    const before = up.requests.length;
    const result = await generateText({ model: provider()('gpt-4o'), prompt: 'Weather in Paris?', tools: { weather }, stopWhen: stepCountIs(3) });
    expect(result.steps[0].toolCalls[0]).toMatchObject({ toolName: 'weather', input: { city: 'mock' } });
    expect(result.text).toMatch(/mock answer/);
    expect(up.requests.slice(before).every((r) => r.path === '/v1/responses')).toBe(true);
  });

  it('streamText', async () => {
    const result = streamText({ model: provider()('gpt-4o'), prompt: 'Count to three' });
    let text = '';
    for await (const delta of result.textStream) text += delta;
    expect(text).toMatch(/mock answer/);
    expect((await result.usage).inputTokens).toBeGreaterThan(0);
  });
});

describe('the OpenAI Agents SDK', () => {
  it('run() with its default model settings and a tool', async () => {
    setTracingDisabled(true);
    setOpenAIAPI('responses');
    setDefaultOpenAIClient(new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: key, maxRetries: 0 }) as never);
    const lookup = agentTool({
      name: 'lookup',
      description: 'Looks a word up',
      parameters: z.object({ word: z.string() }),
      execute: async ({ word }) => `${word} means hello`,
    });
    const agent = new Agent({ name: 'Assistant', instructions: 'Be brief.', tools: [lookup] });
    const result = await run(agent, 'What does hola mean?');
    expect(result.finalOutput).toMatch(/mock answer/);
    expect(up.requests.some((r) => r.path === '/v1/responses' && JSON.stringify(r.body).includes('function_call_output'))).toBe(true);
  });
});

describe('fidelity', () => {
  it('an integer beyond 2^53 reaches the provider digit for digit, with the headers that may travel and none that may not', async () => {
    const raw = '{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"seed":9223372036854775807}';
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${key}`,
        'content-type': 'application/json',
        'idempotency-key': 'idem-1',
        'openai-beta': 'assistants=v2',
        'x-client-request-id': 'client-1',
        'openai-organization': 'org-caller',
        'openai-project': 'proj-caller',
      },
      body: raw,
    });
    expect(res.status).toBe(200);
    const seen = up.requests.at(-1)!;
    expect(seen.raw).toContain('"seed":9223372036854775807');
    expect(seen.headers).toMatchObject({ 'idempotency-key': 'idem-1', 'openai-beta': 'assistants=v2', 'x-client-request-id': 'client-1' });
    expect(seen.headers['openai-organization']).toBeUndefined();
    expect(seen.headers['openai-project']).toBeUndefined();
    expect(JSON.stringify(seen.headers)).not.toContain(key);
  });

  it('a 5 MB image body passes; one over BODY_LIMIT_BYTES (32 MiB) is 413', async () => {
    const image = `data:image/png;base64,${Buffer.alloc(5 * 1024 * 1024, 7).toString('base64')}`;
    const big = await client.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'What is this?' }, { type: 'image_url', image_url: { url: image } }] }],
    });
    expectSchema('CreateChatCompletionResponse', big);
    const tooBig = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x'.repeat(33 * 1024 * 1024) }] }),
    });
    expect(tooBig.status).toBe(413);
    expectSchema('ErrorResponse', await tooBig.json());
  });

  it('a key with tpm 10,000 asking max_completion_tokens 128,000 is served', async () => {
    const small = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: await createKey({ name: 'small-tpm', tpm: 10_000 }), maxRetries: 0 });
    const answer = await small.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], max_completion_tokens: 128_000 });
    expectSchema('CreateChatCompletionResponse', answer);
  });

  it('CORS stays off without CORS_ORIGINS', async () => {
    const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' } });
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('long calls', () => {
  // UPSTREAM_TIMEOUT_MS defaults to 600 s (time to headers): a non-streamed reasoning call that
  // takes minutes is waited for, not cut at a minute and retried twice by the client.
  it('waits for a provider that takes 70 s to answer', async () => {
    up.queueFaults([{ kind: 'delay', ms: 70_000 }]);
    const started = Date.now();
    const answer = await new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: key, maxRetries: 0, timeout: 120_000 }).chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'think hard' }],
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(69_000);
    expectSchema('CreateChatCompletionResponse', answer);
  }, 100_000);
});
