import Anthropic from '@anthropic-ai/sdk';
import { ApiError, UpstreamClientError, UpstreamError } from '../../../app/errors';
import { createAnthropicProvider } from '../../../app/providers/anthropic';
import type { ProviderAdapter } from '../../../app/providers/types';
import { startFakeAnthropic, type FakeAnthropic } from '../../support/fake-anthropic';
import { expectSchema } from '../../support/openapi';
import { eventsOf, jsonOf, payloads, providerRequest, rejection } from '../../support/provider-request';
import { expectResponseEvent } from '../../support/responses-events';

const KEY = 'sk-ant-api03-test-key-abcdef';

const weather = { name: 'get_weather', description: 'Weather for a city', input_schema: { type: 'object', properties: { query: { type: 'string' } } } };

describe('anthropic provider', () => {
  let fake: FakeAnthropic;
  let provider: ProviderAdapter;

  beforeAll(async () => {
    fake = await startFakeAnthropic(KEY);
    provider = createAnthropicProvider({ name: 'claude', apiKey: KEY, baseUrl: fake.url, timeoutMs: 2000, idleTimeoutMs: 2000 });
  });
  afterEach(() => fake.reset());
  afterAll(async () => {
    await provider.close();
    await fake.close();
  });

  it('the fake speaks the protocol the official SDK expects', async () => {
    const client = new Anthropic({ apiKey: KEY, baseURL: fake.url, maxRetries: 0 });
    const msg = await client.messages.create({ model: 'claude-sonnet-5-5', max_tokens: 100, messages: [{ role: 'user', content: 'Hi' }] });
    expect(msg.content[0]).toMatchObject({ type: 'text' });
    const stream = client.messages.stream({
      model: 'claude-sonnet-5-5',
      max_tokens: 100,
      tools: [weather as Anthropic.Tool],
      messages: [{ role: 'user', content: 'please use a tool' }],
    });
    const final = await stream.finalMessage();
    expect(final.stop_reason).toBe('tool_use');
    expect(final.content[1]).toMatchObject({ type: 'tool_use', name: 'get_weather', input: { query: 'please use a tool', limit: 3 } });
    await expect(new Anthropic({ apiKey: 'wrong', baseURL: fake.url, maxRetries: 0 }).models.list()).rejects.toBeInstanceOf(
      Anthropic.AuthenticationError,
    );
  });

  describe('messages, natively', () => {
    const body = { model: 'public-name', max_tokens: 100, messages: [{ role: 'user', content: 'Hello' }] };

    it('sends the key, the caller version and beta, and the provider model id', async () => {
      const res = await provider.send(
        providerRequest('messages', body, { model: 'claude-sonnet-5-5', headers: { 'anthropic-version': '2023-06-01', 'anthropic-beta': 'tools-2024' } }),
      );
      expect(jsonOf(res)).toMatchObject({ type: 'message', model: 'claude-sonnet-5-5' });
      expect(res.headers['x-upstream-request-id']).toBe('req_fake_0001');
      const sent = fake.requests[0];
      expect(sent.headers['x-api-key']).toBe(KEY);
      expect(sent.headers['anthropic-beta']).toBe('tools-2024');
      expect((sent.body as { model: string }).model).toBe('claude-sonnet-5-5');
    });

    it('defaults anthropic-version when the caller sends none', async () => {
      await provider.send(providerRequest('messages', body));
      expect(fake.requests[0].headers['anthropic-version']).toBe('2023-06-01');
    });

    it('passes stream events through with their names', async () => {
      const events = await eventsOf(await provider.send(providerRequest('messages', { ...body, stream: true })));
      expect(events[0].event).toBe('message_start');
      expect(events.map((e) => e.event)).toContain('ping');
      expect(events[events.length - 1].event).toBe('message_stop');
      for (const e of events) expect(JSON.parse(e.data).type).toBe(e.event);
    });

    it('yields an error event as is and ends; throws on a cut stream', async () => {
      fake.queueFaults([{ kind: 'stream-error' }]);
      const events = await eventsOf(await provider.send(providerRequest('messages', { ...body, stream: true })));
      expect(events[events.length - 1].event).toBe('error');
      fake.queueFaults([{ kind: 'cut-stream', afterEvents: 3 }]);
      const res = await provider.send(providerRequest('messages', { ...body, stream: true }));
      expect(await rejection(eventsOf(res))).toBeInstanceOf(UpstreamError);
    });

    it('maps errors: 4xx passed with Anthropic type, 429 keeps retry-after, 529 and refused keys are 502', async () => {
      fake.queueFaults([{ kind: 'status', status: 400, message: `bad thing with ${KEY}` }]);
      const bad = (await rejection(provider.send(providerRequest('messages', body)))) as UpstreamClientError;
      expect(bad).toBeInstanceOf(UpstreamClientError);
      expect(bad.toBody().error.type).toBe('invalid_request_error');
      expect(JSON.stringify(bad.toBody())).not.toContain(KEY);
      expectSchema('ErrorResponse', bad.toBody());

      fake.queueFaults([{ kind: 'status', status: 429, retryAfter: '12' }]);
      const limited = (await rejection(provider.send(providerRequest('messages', body)))) as ApiError;
      expect([limited.status, limited.type, limited.headers['retry-after']]).toEqual([429, 'rate_limit_error', '12']);

      fake.queueFaults([{ kind: 'status', status: 529 }]);
      expect(await rejection(provider.send(providerRequest('messages', body)))).toBeInstanceOf(UpstreamError);

      const wrong = createAnthropicProvider({ name: 'w', apiKey: 'sk-ant-wrong-0000', baseUrl: fake.url, timeoutMs: 1000, idleTimeoutMs: 1000 });
      const refused = (await rejection(wrong.send(providerRequest('messages', body)))) as ApiError;
      expect(refused.status).toBe(502);
      expect(refused.message).not.toContain('sk-ant-wrong');
      await expect(wrong.probe()).rejects.toBeInstanceOf(UpstreamError);
      await wrong.close();
    });

    it('probes GET /v1/models', async () => {
      await expect(provider.probe()).resolves.toBeUndefined();
      expect(fake.requests[0].path).toBe('/v1/models');
    });
  });

  describe('chat by translation', () => {
    const tools = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { query: { type: 'string' } } } } }];
    const chat = {
      model: 'claude',
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'please use a tool' },
      ],
      tools,
    };

    it('answers a valid chat completion with tool calls and usage', async () => {
      const c = jsonOf(await provider.send(providerRequest('chat', chat)));
      expectSchema('CreateChatCompletionResponse', c);
      const choice = (c.choices as Array<{ finish_reason: string; message: { tool_calls: Array<{ function: { arguments: string } }> } }>)[0];
      expect(choice.finish_reason).toBe('tool_calls');
      expect(JSON.parse(choice.message.tool_calls[0].function.arguments)).toEqual({ query: 'please use a tool', limit: 3 });
      const sent = fake.requests[0].body as { system: string; max_tokens: number; tools: unknown[] };
      expect(sent.system).toBe('be brief');
      expect(sent.max_tokens).toBe(4096);
      expect(sent.tools).toHaveLength(1);
    });

    it('streams valid chunks, tool-call deltas included, then a usage chunk and [DONE]', async () => {
      const events = await eventsOf(await provider.send(providerRequest('chat', { ...chat, stream: true })));
      expect(events[events.length - 1].data).toBe('[DONE]');
      const chunks = payloads(events);
      for (const c of chunks) expectSchema('CreateChatCompletionStreamResponse', c);
      const args = chunks
        .flatMap((c) => (c.choices as Array<{ delta: { tool_calls?: Array<{ function?: { arguments?: string } }> } }>))
        .flatMap((ch) => ch.delta.tool_calls ?? [])
        .map((t) => t.function?.arguments ?? '')
        .join('');
      expect(JSON.parse(args)).toEqual({ query: 'please use a tool', limit: 3 });
      const last = chunks[chunks.length - 1] as { choices: unknown[]; usage: { prompt_tokens: number; completion_tokens: number } };
      expect(last.choices).toEqual([]);
      expect(last.usage.completion_tokens).toBeGreaterThan(0);
    });

    it('serves response_format json_schema through a forced tool, streamed or not', async () => {
      const body = {
        model: 'claude',
        messages: [{ role: 'user', content: 'where?' }],
        response_format: { type: 'json_schema', json_schema: { name: 'place', schema: { type: 'object', properties: { query: { type: 'string' } } } } },
      };
      const c = jsonOf(await provider.send(providerRequest('chat', body)));
      const choice = (c.choices as Array<{ finish_reason: string; message: { content: string } }>)[0];
      expect([choice.finish_reason, JSON.parse(choice.message.content)]).toEqual(['stop', { query: 'where?', limit: 3 }]);
      expect(fake.requests[0].body).toMatchObject({ tool_choice: { type: 'tool', name: 'place' } });
      const chunks = payloads(await eventsOf(await provider.send(providerRequest('chat', { ...body, stream: true }))));
      const text = chunks.map((ch) => (ch.choices as Array<{ delta: { content?: string } }>)[0]?.delta.content ?? '').join('');
      expect(JSON.parse(text)).toEqual({ query: 'where?', limit: 3 });
    });

    it('a mid-stream error is thrown, not passed on in Anthropic shape', async () => {
      fake.queueFaults([{ kind: 'stream-error' }]);
      const res = await provider.send(providerRequest('chat', { ...chat, stream: true }));
      expect(await rejection(eventsOf(res))).toBeInstanceOf(UpstreamError);
    });
  });

  describe('responses by translation', () => {
    it('answers a valid Response', async () => {
      const r = jsonOf(await provider.send(providerRequest('responses', { model: 'claude', input: 'Hello', instructions: 'be kind', max_output_tokens: 50 })));
      expectSchema('Response', r);
      expect((fake.requests[0].body as { max_tokens: number }).max_tokens).toBe(50);
    });

    it('streams valid Responses events with function call argument deltas', async () => {
      const body = {
        model: 'claude',
        input: [{ role: 'user', content: [{ type: 'input_text', text: 'please use a tool' }] }],
        tools: [{ type: 'function', name: 'get_weather', parameters: { type: 'object', properties: {} } }],
        stream: true,
      };
      const events = await eventsOf(await provider.send(providerRequest('responses', body)));
      const ps = payloads(events);
      ps.forEach(expectResponseEvent);
      expect(ps.map((p) => p.type)).toContain('response.function_call_arguments.delta');
      const done = ps.find((p) => p.type === 'response.function_call_arguments.done') as { arguments: string; name: string };
      expect(done.name).toBe('get_weather');
      expect(JSON.parse(done.arguments)).toEqual({ query: 'please use a tool', limit: 3 });
      const completed = ps[ps.length - 1] as { type: string; response: { usage: { output_tokens: number } } };
      expect(completed.type).toBe('response.completed');
      expect(completed.response.usage.output_tokens).toBeGreaterThan(0);
    });

    it('refuses stateful requests before calling', async () => {
      const err = (await rejection(provider.send(providerRequest('responses', { model: 'c', input: 'x', previous_response_id: 'resp_1' })))) as ApiError;
      expect([err.status, err.param]).toEqual([400, 'previous_response_id']);
      expect(fake.calls).toBe(0);
    });
  });
});
