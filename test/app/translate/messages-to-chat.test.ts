import { ApiError, UpstreamError } from '../../../app/errors';
import { MessagesToChatStream } from '../../../app/translate/messages-stream-to-chat';
import { messagesToChatResponse } from '../../../app/translate/messages-to-chat-response';
import { fakeClaudeEvents, fakeClaudeMessage } from '../../support/fake-claude';
import { expectSchema } from '../../support/openapi';

const request = {
  model: 'claude',
  max_tokens: 100,
  system: [{ type: 'text' as const, text: 'a long cached system prompt', cache_control: { type: 'ephemeral' as const } }],
  tools: [{ name: 'lookup', input_schema: { type: 'object' } }],
  messages: [{ role: 'user' as const, content: 'please use a tool' }],
};

describe('messagesToChatResponse', () => {
  it('is a valid chat completion with tool calls, finish reason and usage counting cache reads in', () => {
    const msg = fakeClaudeMessage(request);
    const c = messagesToChatResponse(msg, { created: 1700000000 });
    expectSchema('CreateChatCompletionResponse', c);
    expect(c.choices[0]).toMatchObject({
      finish_reason: 'tool_calls',
      message: { content: 'Let me check.', tool_calls: [{ function: { name: 'lookup', arguments: '{"query":"please use a tool","limit":3}' } }] },
    });
    const read = msg.usage.cache_read_input_tokens ?? 0;
    expect(read).toBeGreaterThan(0);
    expect(c.usage).toMatchObject({
      prompt_tokens: msg.usage.input_tokens + read,
      completion_tokens: msg.usage.output_tokens,
      prompt_tokens_details: { cached_tokens: read },
    });
  });
});

describe('the forced response_format tool', () => {
  const forced = { ...request, tools: [{ name: 'answer', input_schema: { type: 'object' } }], tool_choice: { type: 'tool' as const, name: 'answer' } };

  it('comes back as content with finish_reason stop', () => {
    const c = messagesToChatResponse(fakeClaudeMessage(forced), { jsonTool: 'answer' });
    expect(c.choices[0].finish_reason).toBe('stop');
    expect(c.choices[0].message.tool_calls).toBeUndefined();
    expect(c.choices[0].message.content).toBe('{"query":"please use a tool","limit":3}');
  });

  it('streams as content deltas', () => {
    const t = new MessagesToChatStream('claude', 'answer');
    const chunks = fakeClaudeEvents(forced).flatMap((e) => t.push(e));
    expect(chunks.some((c) => c.choices[0]?.delta.tool_calls)).toBe(false);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('{"query":"please use a tool","limit":3}');
    expect(chunks[chunks.length - 2].choices[0].finish_reason).toBe('stop');
  });
});

describe('MessagesToChatStream', () => {
  it('turns a Claude stream into valid chunks that rebuild the same answer', () => {
    const t = new MessagesToChatStream('claude');
    const chunks = fakeClaudeEvents(request).flatMap((e) => t.push(e));
    chunks.forEach((c) => expectSchema('CreateChatCompletionStreamResponse', c));
    const deltas = chunks.flatMap((c) => c.choices.map((ch) => ch.delta));
    expect(deltas.map((d) => d.content ?? '').join('')).toBe('Let me check.');
    const calls = deltas.flatMap((d) => d.tool_calls ?? []);
    expect(calls[0]).toMatchObject({ index: 0, id: expect.stringMatching(/^toolu_/), function: { name: 'lookup', arguments: '' } });
    expect(JSON.parse(calls.map((c) => c.function?.arguments ?? '').join(''))).toEqual({ query: 'please use a tool', limit: 3 });
    const finish = chunks[chunks.length - 2];
    expect(finish.choices[0].finish_reason).toBe('tool_calls');
    const last = chunks[chunks.length - 1];
    expect(last.choices).toEqual([]);
    const msg = fakeClaudeMessage(request);
    expect(last.usage?.prompt_tokens).toBe(msg.usage.input_tokens + (msg.usage.cache_read_input_tokens ?? 0));
    expect(last.usage?.completion_tokens).toBe(msg.usage.output_tokens);
    expect(t.complete).toBe(true);
  });

  it('throws an error event: rate limits as 429, the rest as 502', () => {
    const t = new MessagesToChatStream('c');
    expect(() => t.push({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } })).toThrow(UpstreamError);
    let err: unknown;
    try {
      t.push({ type: 'error', error: { type: 'rate_limit_error', message: 'slow down' } });
    } catch (e) {
      err = e;
    }
    expect((err as ApiError).status).toBe(429);
  });
});
