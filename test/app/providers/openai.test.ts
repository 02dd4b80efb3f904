import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiError, UpstreamClientError, UpstreamError, UpstreamTimeoutError } from '../../../app/errors';
import { parseJson } from '../../../app/lib/json';
import { createOpenAIProvider } from '../../../app/providers/openai';
import type { ProviderAdapter } from '../../../app/providers/types';
import { startMockUpstream } from '../../../app/upstream/mock-upstream';
import { startFakeUpstream, type FakeUpstream } from '../../support/fake-upstream';
import { expectSchema } from '../../support/openapi';
import { expectResponseEvent } from '../../support/responses-events';
import { collect, eventsOf, jsonOf, payloads, providerRequest, rejection } from '../../support/provider-request';

const KEY = 'sk-test-gateway-key-0123456789';

describe('openai provider', () => {
  let up: FakeUpstream;
  let provider: ProviderAdapter;

  beforeAll(async () => {
    up = await startFakeUpstream({ apiKey: KEY });
    provider = createOpenAIProvider({ name: 'oa', baseUrl: up.url, apiKey: KEY, timeoutMs: 2000, idleTimeoutMs: 2000 });
  });
  afterEach(() => up.reset());
  afterAll(async () => {
    await provider.close();
    await up.close();
  });

  const chat = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello' }] };

  describe('native surfaces', () => {
    it('sends chat with the bearer key and the caller headers, and answers the completion text', async () => {
      const res = await provider.send(providerRequest('chat', chat, { headers: { 'idempotency-key': 'abc' } }));
      expectSchema('CreateChatCompletionResponse', jsonOf(res));
      expect(up.requests[0].path).toBe('/v1/chat/completions');
      expect(up.requests[0].headers.authorization).toBe(`Bearer ${KEY}`);
      expect(up.requests[0].headers['idempotency-key']).toBe('abc');
    });

    it('keeps integers beyond 2^53 digit for digit', async () => {
      const body = parseJson('{"model":"m","messages":[{"role":"user","content":"x"}],"seed":9223372036854775807}') as Record<string, unknown>;
      await provider.send(providerRequest('chat', body));
      expect(up.requests[0].raw).toContain('"seed":9223372036854775807');
    });

    it('streams chat chunks ending with [DONE]', async () => {
      const events = await eventsOf(await provider.send(providerRequest('chat', { ...chat, stream: true })));
      expect(events[events.length - 1]).toEqual({ data: '[DONE]' });
      for (const p of payloads(events)) expectSchema('CreateChatCompletionStreamResponse', p);
      expect(up.requests[0].headers.accept).toBe('text/event-stream');
    });

    it('answers embeddings, completions and moderations in their published shapes', async () => {
      expectSchema('CreateEmbeddingResponse', jsonOf(await provider.send(providerRequest('embeddings', { model: 'e', input: ['a', 'b'] }))));
      expectSchema('CreateCompletionResponse', jsonOf(await provider.send(providerRequest('completions', { model: 'c', prompt: 'Once' }))));
      const mod = jsonOf(await provider.send(providerRequest('moderations', { input: ['I will kill the process', 'hi'] })));
      expectSchema('CreateModerationResponse', mod);
      expect((mod.results as Array<{ flagged: boolean }>).map((r) => r.flagged)).toEqual([true, false]);
    });

    it('streams completions with a usage chunk when asked', async () => {
      const res = await provider.send(
        providerRequest('completions', { model: 'c', prompt: 'Once', stream: true, stream_options: { include_usage: true } }),
      );
      const events = await eventsOf(res);
      expect(events[events.length - 1].data).toBe('[DONE]');
      const ps = payloads(events);
      // The schema describes the whole answer; mid-stream chunks carry finish_reason and usage null, as OpenAI's do.
      for (const p of ps) expectSchema('CreateCompletionResponse', streamedAsWhole(p));
      expect(ps[ps.length - 1].usage).toMatchObject({ prompt_tokens: expect.any(Number) });
    });

    it('answers responses as a valid Response with usage', async () => {
      const body = { model: 'gpt-4o-mini', input: 'Tell me a story', instructions: 'Be brief' };
      const r = jsonOf(await provider.send(providerRequest('responses', body)));
      expectSchema('Response', r);
      expect(r).toMatchObject({ object: 'response', status: 'completed', instructions: 'Be brief' });
      expect((r.usage as { input_tokens: number }).input_tokens).toBeGreaterThan(0);
    });

    it('streams responses as named events with sequence numbers and no [DONE] (offline mock)', async () => {
      const mock = await startMockUpstream();
      const p = createOpenAIProvider({ name: 'm', baseUrl: mock.url, timeoutMs: 2000, idleTimeoutMs: 2000 });
      const events = await eventsOf(await p.send(providerRequest('responses', { model: 'm', input: 'hi there', stream: true })));
      await p.close();
      await mock.close();
      const ps = payloads(events);
      expect(events.every((e) => e.event === (JSON.parse(e.data) as { type: string }).type)).toBe(true);
      ps.forEach((p, i) => {
        expectResponseEvent(p);
        expect(p.sequence_number).toBe(i);
      });
      expect(ps.map((p) => p.type)).toEqual([
        'response.created',
        'response.in_progress',
        'response.output_item.added',
        'response.content_part.added',
        ...ps.filter((p) => p.type === 'response.output_text.delta').map(() => 'response.output_text.delta'),
        'response.output_text.done',
        'response.content_part.done',
        'response.output_item.done',
        'response.completed',
      ]);
    });

    it('sends the raw key in a custom auth header (Azure api-key) and the configured headers', async () => {
      const azure = createOpenAIProvider({
        name: 'az',
        baseUrl: `${up.url}?api-version=2024-10-21`,
        apiKey: KEY,
        authHeader: 'api-key',
        headers: { 'x-extra': '1' },
        timeoutMs: 2000,
        idleTimeoutMs: 2000,
      });
      up.requireApiKey(undefined);
      try {
        await azure.send(providerRequest('chat', chat));
        expect(up.requests[0].headers['api-key']).toBe(KEY);
        expect(up.requests[0].headers.authorization).toBeUndefined();
        expect(up.requests[0].headers['x-extra']).toBe('1');
        expect(up.requests[0].path).toBe('/v1/chat/completions?api-version=2024-10-21');
      } finally {
        up.requireApiKey(KEY);
        await azure.close();
      }
    });
  });

  describe('errors', () => {
    it('passes a 4xx through, normalised, with the key scrubbed', async () => {
      up.queueFaults([{ kind: 'status', status: 400, body: { error: { message: `bad key ${KEY} here`, type: 'invalid_request_error' } } }]);
      const err = (await rejection(provider.send(providerRequest('chat', chat)))) as UpstreamClientError;
      expect(err).toBeInstanceOf(UpstreamClientError);
      expect(err.status).toBe(400);
      expect(JSON.stringify(err.toBody())).not.toContain(KEY);
      expectSchema('ErrorResponse', err.toBody());
    });

    it('keeps retry-after on a 429', async () => {
      up.queueFaults([{ kind: 'status', status: 429, retryAfter: '7' }]);
      const err = (await rejection(provider.send(providerRequest('chat', chat)))) as ApiError;
      expect(err.status).toBe(429);
      expect(err.headers['retry-after']).toBe('7');
    });

    it('turns refused credentials into a 502 that names no key', async () => {
      const wrong = createOpenAIProvider({ name: 'x', baseUrl: up.url, apiKey: 'sk-wrong-key-123456', timeoutMs: 2000, idleTimeoutMs: 2000 });
      try {
        const err = (await rejection(wrong.send(providerRequest('chat', chat)))) as ApiError;
        expect(err).toBeInstanceOf(UpstreamError);
        expect(err.status).toBe(502);
        expect(err.message).not.toContain('sk-wrong');
        await expect(wrong.probe()).rejects.toBeInstanceOf(UpstreamError);
      } finally {
        await wrong.close();
      }
    });

    it('maps 5xx to 502 and a silent upstream to 504', async () => {
      up.queueFaults([{ kind: 'status', status: 503 }]);
      expect(await rejection(provider.send(providerRequest('chat', chat)))).toBeInstanceOf(UpstreamError);
      const quick = createOpenAIProvider({ name: 'q', baseUrl: up.url, apiKey: KEY, timeoutMs: 200, idleTimeoutMs: 200 });
      up.queueFaults([{ kind: 'hang' }]);
      try {
        expect(await rejection(quick.send(providerRequest('chat', chat)))).toBeInstanceOf(UpstreamTimeoutError);
      } finally {
        await quick.close();
      }
    });

    it('a stream that falls silent longer than idleTimeoutMs is a 504 from the iterator', async () => {
      // undici checks body silence on its coarse (~0.5 s) timer wheel, hence the long gap.
      const idle = createOpenAIProvider({ name: 'i', baseUrl: up.url, apiKey: KEY, timeoutMs: 2000, idleTimeoutMs: 200 });
      up.queueFaults([{ kind: 'slow-stream', delayMs: 3000 }]);
      try {
        const res = await idle.send(providerRequest('chat', { ...chat, stream: true }));
        expect(await rejection(eventsOf(res))).toBeInstanceOf(UpstreamTimeoutError);
      } finally {
        await idle.close();
      }
    });

    it('yields a mid-stream error event as is and ends there', async () => {
      up.queueFaults([{ kind: 'stream-error' }]);
      const events = await eventsOf(await provider.send(providerRequest('chat', { ...chat, stream: true })));
      expect(JSON.parse(events[events.length - 1].data)).toHaveProperty('error');
    });

    it('throws when a stream is cut short or malformed', async () => {
      up.queueFaults([{ kind: 'cut-stream', afterChunks: 2 }]);
      const res = await provider.send(providerRequest('chat', { ...chat, stream: true }));
      expect(await rejection(eventsOf(res))).toBeInstanceOf(UpstreamError);
      up.queueFaults([{ kind: 'malformed-stream' }]);
      expect(await rejection(provider.send(providerRequest('chat', chat)))).toBeInstanceOf(UpstreamError);
    });

    it('a caller abort stops the stream and reaches the upstream', async () => {
      up.queueFaults([{ kind: 'slow-stream', delayMs: 100 }]);
      const ac = new AbortController();
      const res = await provider.send(providerRequest('chat', { ...chat, stream: true }, { signal: ac.signal }));
      if (res.kind !== 'stream') throw new Error('expected a stream');
      const it = res.events[Symbol.asyncIterator]();
      await it.next();
      ac.abort();
      await expect(collect({ [Symbol.asyncIterator]: () => it })).rejects.toThrow();
      await up.waitForAbort();
    });
  });

  describe('messages by translation', () => {
    const messages = { model: 'gpt-4o-mini', max_tokens: 50, system: 'terse', messages: [{ role: 'user', content: 'Say hello' }] };

    it('answers a Messages request with an Anthropic message', async () => {
      const msg = jsonOf(await provider.send(providerRequest('messages', messages, { headers: { 'anthropic-version': '2023-06-01', 'idempotency-key': 'k' } })));
      expect(up.requests[0].headers['anthropic-version']).toBeUndefined();
      expect(up.requests[0].headers['idempotency-key']).toBe('k');
      expect(msg).toMatchObject({ type: 'message', role: 'assistant', stop_reason: 'end_turn' });
      expect((msg.content as Array<{ type: string }>)[0].type).toBe('text');
      expect((msg.usage as { input_tokens: number }).input_tokens).toBeGreaterThan(0);
      const sent = up.requests[0].body as { messages: Array<{ role: string }>; max_completion_tokens: number };
      expect(sent.messages[0]).toEqual({ role: 'system', content: 'terse' });
      expect(sent.max_completion_tokens).toBe(50);
    });

    it('streams Anthropic events with usage in message_delta', async () => {
      const events = await eventsOf(await provider.send(providerRequest('messages', { ...messages, stream: true })));
      const names = events.map((e) => e.event);
      expect(names[0]).toBe('message_start');
      expect(names.slice(-2)).toEqual(['message_delta', 'message_stop']);
      expect(names).toContain('content_block_delta');
      const delta = JSON.parse(events[events.length - 2].data) as { usage: { output_tokens: number } };
      expect(delta.usage.output_tokens).toBeGreaterThan(0);
      expect((up.requests[0].body as { stream_options: unknown }).stream_options).toEqual({ include_usage: true });
    });
  });

  describe('response headers and probe', () => {
    let server: Server;
    let url: string;
    beforeAll(async () => {
      server = createServer((req, res) => {
        if (req.url === '/v1/models') {
          res.writeHead(404).end();
          return;
        }
        res.writeHead(200, { 'content-type': 'text/event-stream', 'x-request-id': 'req_123', 'openai-processing-ms': '42' });
        res.end(': keep-alive sk-leaky-comment\n\ndata: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[]}\n\ndata: [DONE]\n\n');
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
    });
    afterAll(() => new Promise<void>((r) => server.close(() => r())));

    it('exposes the upstream request id and processing time, and drops SSE comments', async () => {
      const p = createOpenAIProvider({ name: 'h', baseUrl: url, timeoutMs: 1000, idleTimeoutMs: 1000 });
      try {
        const res = await p.send(providerRequest('chat', { ...chat, stream: true }));
        expect(res.headers).toEqual({ 'x-upstream-request-id': 'req_123', 'openai-processing-ms': '42' });
        const events = await eventsOf(res);
        expect(events.map((e) => e.data).join()).not.toContain('sk-leaky');
        expect(events).toHaveLength(2);
        await expect(p.probe()).resolves.toBeUndefined(); // a server without /models is still up
      } finally {
        await p.close();
      }
    });
  });
});

function streamedAsWhole(chunk: Record<string, unknown>): Record<string, unknown> {
  const choices = (chunk.choices as Array<Record<string, unknown>>).map((c) => ({ ...c, finish_reason: c.finish_reason ?? 'stop' }));
  const out: Record<string, unknown> = { ...chunk, choices };
  if (out.usage === null) delete out.usage;
  return out;
}
