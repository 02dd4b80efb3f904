import { ApiError, UpstreamClientError, UpstreamError, UpstreamTimeoutError } from '../../../app/errors';
import { createBedrockProvider } from '../../../app/providers/bedrock';
import type { ProviderAdapter } from '../../../app/providers/types';
import { decodeEmbeddingBase64 } from '../../../app/upstream/mock-responses';
import { fakeBedrockRequestHandler, startFakeBedrock, type FakeBedrock } from '../../support/fake-bedrock';
import { expectSchema } from '../../support/openapi';
import { eventsOf, jsonOf, payloads, providerRequest, rejection } from '../../support/provider-request';
import { expectResponseEvent } from '../../support/responses-events';

const CREDENTIALS = { accessKeyId: 'AKIDFAKEFAKEFAKE', secretAccessKey: 'fake-secret-access-key-do-not-leak' };
const NOVA = 'us.amazon.nova-pro-v1:0';
const CLAUDE = 'us.anthropic.claude-sonnet-4-5-20250929-v1:0';
const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';

describe('bedrock provider', () => {
  let fake: FakeBedrock;
  let provider: ProviderAdapter;

  beforeAll(async () => {
    fake = await startFakeBedrock();
    provider = createBedrockProvider({
      name: 'bedrock',
      region: 'us-east-1',
      endpoint: fake.url,
      credentials: CREDENTIALS,
      requestHandler: fakeBedrockRequestHandler(),
    });
  });
  afterEach(() => fake.reset());
  afterAll(async () => {
    await provider.close();
    await fake.close();
  });

  it('serves chat, embeddings, messages and responses, not completions or moderations', () => {
    expect(['chat', 'embeddings', 'messages', 'responses', 'completions', 'moderations'].map((s) => provider.supports(s as never))).toEqual([
      true, true, true, true, false, false,
    ]);
  });

  describe('chat on Converse', () => {
    const tools = [{ type: 'function', function: { name: 'lookup', description: 'Looks up', parameters: { type: 'object', properties: { query: { type: 'string' } } } } }];

    it('sends a signed Converse call with system, images, tools and inference settings', async () => {
      const body = {
        model: 'public',
        messages: [
          { role: 'system', content: 'be brief' },
          { role: 'developer', content: 'use metric units' },
          { role: 'user', content: [{ type: 'text', text: 'What is this?' }, { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}` } }] },
        ],
        max_completion_tokens: 200,
        temperature: 0.2,
        top_p: 0.9,
        stop: ['END'],
        tools,
      };
      const res = await provider.send(providerRequest('chat', body, { model: NOVA }));
      const c = jsonOf(res);
      expectSchema('CreateChatCompletionResponse', c);
      expect(res.headers['x-upstream-request-id']).toBe('fake-request-0001');
      expect(fake.counts.converse).toBe(1);
      const sent = fake.requests[0];
      expect(sent.modelId).toBe(NOVA);
      expect(String(sent.headers.authorization)).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDFAKEFAKEFAKE\/\d+\/us-east-1\/bedrock\/aws4_request/);
      expect(sent.body).toMatchObject({
        system: [{ text: 'be brief' }, { text: 'use metric units' }],
        inferenceConfig: { maxTokens: 200, temperature: 0.2, topP: 0.9, stopSequences: ['END'] },
        toolConfig: { tools: [{ toolSpec: { name: 'lookup', inputSchema: { json: tools[0].function.parameters } } }] },
      });
      const image = (sent.body.messages as Array<{ content: Array<{ image?: { format: string; source: { bytes: string } } }> }>)[0].content[1].image;
      expect(image?.format).toBe('png');
      expect(image?.source.bytes).toBe(PNG);
      expect((c.choices as Array<{ message: { content: string } }>)[0].message.content).toContain('(1 image)');
    });

    it('maps a tool call and its result across turns', async () => {
      const first = jsonOf(await provider.send(providerRequest('chat', { model: 'm', messages: [{ role: 'user', content: 'x' }], tools, tool_choice: 'required' }, { model: NOVA })));
      const choice = (first.choices as Array<{ finish_reason: string; message: { tool_calls: Array<{ id: string; function: { name: string; arguments: string } }> } }>)[0];
      expect(choice.finish_reason).toBe('tool_calls');
      const call = choice.message.tool_calls[0];
      expect(JSON.parse(call.function.arguments)).toEqual({ query: 'x', limit: 3 });
      expect(fake.requests[0].body.toolConfig).toMatchObject({ toolChoice: { any: {} } });

      const second = {
        model: 'm',
        tools,
        messages: [
          { role: 'user', content: 'x' },
          { role: 'assistant', content: null, tool_calls: [call] },
          { role: 'tool', tool_call_id: call.id, content: '42 degrees' },
        ],
      };
      const answer = jsonOf(await provider.send(providerRequest('chat', second, { model: NOVA })));
      expect((answer.choices as Array<{ message: { content: string } }>)[0].message.content).toContain('[tool result]');
      expect(fake.requests[1].body.messages).toEqual([
        { role: 'user', content: [{ text: 'x' }] },
        { role: 'assistant', content: [{ toolUse: { toolUseId: call.id, name: 'lookup', input: { query: 'x', limit: 3 } } }] },
        { role: 'user', content: [{ toolResult: { toolUseId: call.id, content: [{ text: '42 degrees' }] } }] },
      ]);
    });

    it('answers response_format json_schema through a forced tool, as content', async () => {
      const body = {
        model: 'm',
        messages: [{ role: 'user', content: 'give json' }],
        response_format: { type: 'json_schema', json_schema: { name: 'answer', schema: { type: 'object', properties: { query: { type: 'string' } } } } },
      };
      const c = jsonOf(await provider.send(providerRequest('chat', body, { model: NOVA })));
      const choice = (c.choices as Array<{ finish_reason: string; message: { content: string; tool_calls?: unknown } }>)[0];
      expect(choice.finish_reason).toBe('stop');
      expect(choice.message.tool_calls).toBeUndefined();
      expect(JSON.parse(choice.message.content)).toEqual({ query: 'give json', limit: 3 });
      expect(fake.requests[0].body.toolConfig).toMatchObject({ toolChoice: { tool: { name: 'answer' } } });
    });

    it('streams valid chunks from ConverseStream, tool-call deltas included, with usage last', async () => {
      const res = await provider.send(providerRequest('chat', { model: 'm', messages: [{ role: 'user', content: 'please use a tool' }], tools, stream: true }, { model: NOVA }));
      const events = await eventsOf(res);
      expect(fake.counts['converse-stream']).toBe(1);
      expect(events[events.length - 1].data).toBe('[DONE]');
      const chunks = payloads(events);
      chunks.forEach((c) => expectSchema('CreateChatCompletionStreamResponse', c));
      const deltas = chunks.flatMap((c) => (c.choices as Array<{ delta: { tool_calls?: Array<{ id?: string; function?: { name?: string; arguments?: string } }> } }>));
      const calls = deltas.flatMap((d) => d.delta.tool_calls ?? []);
      expect(calls[0]).toMatchObject({ id: expect.stringMatching(/^tooluse_/), function: { name: 'lookup', arguments: '' } });
      expect(JSON.parse(calls.map((t) => t.function?.arguments ?? '').join(''))).toEqual({ query: 'please use a tool', limit: 3 });
      const finish = chunks[chunks.length - 2] as { choices: Array<{ finish_reason: string }> };
      expect(finish.choices[0].finish_reason).toBe('tool_calls');
      const usage = chunks[chunks.length - 1] as { choices: unknown[]; usage: { prompt_tokens: number; completion_tokens: number } };
      expect(usage.choices).toEqual([]);
      expect(usage.usage.completion_tokens).toBeGreaterThan(0);
    });

    it('maps max_tokens to maxTokens and the max_tokens stop to finish_reason length', async () => {
      const res = await provider.send(providerRequest('chat', { model: 'm', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 }, { model: NOVA }));
      expect(fake.requests[0].body.inferenceConfig).toEqual({ maxTokens: 2 });
      const c = jsonOf(res) as { choices: Array<{ finish_reason: string }>; usage: { prompt_tokens: number; total_tokens: number; completion_tokens: number } };
      expect(c.choices[0].finish_reason).toBe('length');
      expect(c.usage.total_tokens).toBe(c.usage.prompt_tokens + c.usage.completion_tokens);
    });

    it('refuses what Converse cannot take, before any call', async () => {
      const url = await rejection(provider.send(providerRequest('chat', { model: 'm', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.com/a.png' } }] }] }, { model: NOVA })));
      expect((url as ApiError).param).toBe('messages[0].content[0].image_url.url');
      const n = (await rejection(provider.send(providerRequest('chat', { model: 'm', n: 2, messages: [{ role: 'user', content: 'x' }] }, { model: NOVA })))) as ApiError;
      expect([n.status, n.param]).toEqual([400, 'n']);
      expect(fake.calls).toBe(0);
    });
  });

  describe('errors', () => {
    const chat = { model: 'm', messages: [{ role: 'user', content: 'hi' }] };
    const send = () => provider.send(providerRequest('chat', chat, { model: NOVA }));

    it('ThrottlingException → 429 rate_limit_error; ModelNotReady, ServiceUnavailable and 500 → 502', async () => {
      fake.queueFaults([{ kind: 'throttle' }, { kind: 'not-ready' }, { kind: 'unavailable' }, { kind: 'server-error' }]);
      const throttled = (await rejection(send())) as UpstreamClientError;
      expect([throttled.status, throttled.type, throttled.code]).toEqual([429, 'rate_limit_error', 'rate_limit_exceeded']);
      expectSchema('ErrorResponse', throttled.toBody());
      for (let i = 0; i < 3; i++) {
        const err = (await rejection(send())) as ApiError;
        expect(err).toBeInstanceOf(UpstreamError);
        expect(err.status).toBe(502);
      }
      expect(fake.counts.converse).toBe(4); // one attempt each: the router retries, not the SDK
    });

    it('ValidationException → 400 with the message; AccessDenied → 502 naming no credential; ModelTimeout → 504', async () => {
      fake.queueFaults([{ kind: 'validation', message: 'messages: too long' }, { kind: 'access-denied' }, { kind: 'model-timeout' }]);
      const invalid = (await rejection(send())) as UpstreamClientError;
      expect([invalid.status, invalid.message]).toEqual([400, 'messages: too long']);
      const denied = (await rejection(send())) as ApiError;
      expect(denied.status).toBe(502);
      expect(JSON.stringify(denied.toBody())).not.toMatch(/AKID|fake-secret/);
      expect(await rejection(send())).toBeInstanceOf(UpstreamTimeoutError);
    });

    it('an exception mid-stream is thrown from the iterator', async () => {
      fake.queueFaults([{ kind: 'stream-exception', exception: 'throttlingException' }]);
      const res = await provider.send(providerRequest('chat', { ...chat, stream: true }, { model: NOVA }));
      const err = (await rejection(eventsOf(res))) as ApiError;
      expect(err.status).toBe(429);
      fake.queueFaults([{ kind: 'stream-exception', exception: 'modelStreamErrorException' }]);
      const res2 = await provider.send(providerRequest('chat', { ...chat, stream: true }, { model: NOVA }));
      expect(await rejection(eventsOf(res2))).toBeInstanceOf(UpstreamError);
    });

    it('a silent runtime times out as 504', async () => {
      // A non-streamed call is bounded by timeoutMs (the time to its answer), not the idle timer.
      const quick = createBedrockProvider({
        name: 'q',
        region: 'us-east-1',
        endpoint: fake.url,
        credentials: CREDENTIALS,
        requestHandler: fakeBedrockRequestHandler(60_000),
        timeoutMs: 300,
      });
      fake.queueFaults([{ kind: 'hang' }]);
      try {
        expect(await rejection(quick.send(providerRequest('chat', chat, { model: NOVA })))).toBeInstanceOf(UpstreamTimeoutError);
      } finally {
        await quick.close();
      }
    });

    it('the caller abort is passed through', async () => {
      fake.queueFaults([{ kind: 'hang' }]);
      const ac = new AbortController();
      const p = provider.send(providerRequest('chat', chat, { model: NOVA, signal: ac.signal }));
      await waitFor(() => fake.calls === 1);
      ac.abort();
      const err = await rejection(p);
      expect(err).not.toBeInstanceOf(ApiError);
    });
  });

  describe('messages', () => {
    const messages = { model: 'claude', max_tokens: 100, metadata: { user_id: 'u1' }, messages: [{ role: 'user', content: 'Hello' }] };

    it('on Claude: InvokeModel with Anthropic body and bedrock version, answer passed back', async () => {
      const res = await provider.send(providerRequest('messages', messages, { model: CLAUDE, headers: { 'anthropic-beta': 'a-1, b-2' } }));
      const msg = jsonOf(res);
      expect(msg).toMatchObject({ type: 'message', role: 'assistant', model: CLAUDE, stop_reason: 'end_turn' });
      expect(fake.counts.invoke).toBe(1);
      expect(fake.requests.find((r) => r.route === 'invoke')?.body).toEqual({
        anthropic_version: 'bedrock-2023-05-31',
        anthropic_beta: ['a-1', 'b-2'],
        max_tokens: 100,
        messages: [{ role: 'user', content: 'Hello' }],
      });
    });

    it('on Claude, streamed: Anthropic events by name, without Bedrock metrics', async () => {
      const events = await eventsOf(await provider.send(providerRequest('messages', { ...messages, stream: true }, { model: CLAUDE })));
      expect(fake.counts['invoke-with-response-stream']).toBe(1);
      expect(events[0].event).toBe('message_start');
      expect(events[events.length - 1]).toEqual({ event: 'message_stop', data: '{"type":"message_stop"}' });
      for (const e of events) expect(JSON.parse(e.data).type).toBe(e.event);
    });

    it('on other models: translated to Converse and back', async () => {
      const msg = jsonOf(await provider.send(providerRequest('messages', { ...messages, system: 'brief' }, { model: NOVA })));
      expect(msg).toMatchObject({ type: 'message', stop_reason: 'end_turn' });
      expect(fake.counts.converse).toBe(1);
      expect(fake.requests[0].body.system).toEqual([{ text: 'brief' }]);
      const events = await eventsOf(await provider.send(providerRequest('messages', { ...messages, stream: true }, { model: NOVA })));
      expect(events.map((e) => e.event).slice(-2)).toEqual(['message_delta', 'message_stop']);
    });
  });

  describe('responses', () => {
    it('answers a valid Response and streams valid events', async () => {
      const r = jsonOf(await provider.send(providerRequest('responses', { model: 'm', input: 'Hello', instructions: 'brief' }, { model: NOVA })));
      expectSchema('Response', r);
      const events = await eventsOf(await provider.send(providerRequest('responses', { model: 'm', input: 'Hello', stream: true }, { model: NOVA })));
      payloads(events).forEach(expectResponseEvent);
    });
  });

  describe('embeddings', () => {
    it('Titan: one call per input, usage summed, float and base64', async () => {
      const req = { model: 'e', input: ['one', 'two', 'three'], dimensions: 256 };
      const r = jsonOf(await provider.send(providerRequest('embeddings', req, { model: 'amazon.titan-embed-text-v2:0' })));
      expectSchema('CreateEmbeddingResponse', r);
      expect(fake.counts.invoke).toBe(3);
      // Inputs go out concurrently: find the first one's call, whatever order they arrived in.
      expect(fake.requests.map((r) => r.body)).toContainEqual({ inputText: 'one', dimensions: 256, normalize: true });
      const data = r.data as Array<{ index: number; embedding: number[] }>;
      expect(data.map((d) => [d.index, d.embedding.length])).toEqual([[0, 256], [1, 256], [2, 256]]);
      expect((r.usage as { prompt_tokens: number }).prompt_tokens).toBe(1 + 1 + 2); // the fake counts ceil(chars / 4) per input
      const b = jsonOf(await provider.send(providerRequest('embeddings', { ...req, encoding_format: 'base64' }, { model: 'amazon.titan-embed-text-v2:0' })));
      const decoded = decodeEmbeddingBase64((b.data as Array<{ embedding: string }>)[1].embedding);
      expect(decoded).toEqual(data[1].embedding);
    });

    it('Cohere: texts in batches of 96 with input_type, token count from the header', async () => {
      const input = Array.from({ length: 100 }, (_, i) => `text ${i}`);
      const r = jsonOf(await provider.send(providerRequest('embeddings', { model: 'e', input, input_type: 'search_query' }, { model: 'cohere.embed-english-v3' })));
      expectSchema('CreateEmbeddingResponse', r);
      expect(fake.counts.invoke).toBe(2);
      expect(fake.requests.map((q) => (q.body.texts as string[]).length).sort()).toEqual([4, 96]);
      expect(fake.requests[0].body).toMatchObject({ input_type: 'search_query', embedding_types: ['float'] });
      expect((r.data as unknown[]).length).toBe(100);
      expect((r.usage as { prompt_tokens: number }).prompt_tokens).toBeGreaterThan(100);
    });

    it('refuses token-id input and unknown embedding models', async () => {
      const tokens = (await rejection(provider.send(providerRequest('embeddings', { model: 'e', input: [1, 2, 3] }, { model: 'amazon.titan-embed-text-v2:0' })))) as ApiError;
      expect([tokens.status, tokens.param]).toEqual([400, 'input']);
      const unknown = (await rejection(provider.send(providerRequest('embeddings', { model: 'e', input: 'x' }, { model: NOVA })))) as ApiError;
      expect(unknown.param).toBe('model');
    });
  });

  it('probe resolves with credentials and fails without revealing them', async () => {
    await expect(provider.probe()).resolves.toBeUndefined();
    const none = createBedrockProvider({
      name: 'n',
      region: 'us-east-1',
      endpoint: fake.url,
      credentials: async () => {
        throw new Error(`no creds ${CREDENTIALS.secretAccessKey}`);
      },
    });
    const err = (await rejection(none.probe())) as Error;
    expect(err.message).not.toContain('fake-secret');
    await none.close();
  });
});

async function waitFor(done: () => boolean, timeoutMs = 2000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}
