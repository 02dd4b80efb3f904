import { chatCodec } from '../../../app/surfaces/chat';
import { completionsCodec } from '../../../app/surfaces/completions';
import { embeddingsCodec } from '../../../app/surfaces/embeddings';
import { messagesCodec } from '../../../app/surfaces/messages';
import { moderationsCodec, DEFAULT_MODERATION_MODEL } from '../../../app/surfaces/moderations';
import { responsesCodec, referencedIds } from '../../../app/surfaces/responses';
import { fromAnthropicUsage, fromOpenAIUsage, fromResponsesUsage } from '../../../app/surfaces/usage-shapes';
import { parseBody } from '../../../app/schemas/requests';

describe('usage shapes', () => {
  it('chat: cached and reasoning details', () => {
    expect(
      fromOpenAIUsage({ prompt_tokens: 100, completion_tokens: 50, prompt_tokens_details: { cached_tokens: 40 }, completion_tokens_details: { reasoning_tokens: 30 } }),
    ).toEqual({ inputTokens: 100, outputTokens: 50, cachedInputTokens: 40, reasoningTokens: 30 });
    expect(fromOpenAIUsage(null)).toBeUndefined();
    expect(fromOpenAIUsage({ prompt_tokens: 'x', completion_tokens: -3 })).toEqual({ inputTokens: 0, outputTokens: 0 });
    expect(fromOpenAIUsage({ total_tokens: 3 })).toBeUndefined();
  });

  it('responses: input/output with their details', () => {
    expect(
      fromResponsesUsage({ input_tokens: 10, output_tokens: 20, input_tokens_details: { cached_tokens: 4 }, output_tokens_details: { reasoning_tokens: 7 } }),
    ).toEqual({ inputTokens: 10, outputTokens: 20, cachedInputTokens: 4, reasoningTokens: 7 });
  });

  it('anthropic: cache reads and writes are added to the input', () => {
    expect(fromAnthropicUsage({ input_tokens: 10, output_tokens: 5, cache_read_input_tokens: 100, cache_creation_input_tokens: 20 })).toEqual({
      inputTokens: 130,
      outputTokens: 5,
      cachedInputTokens: 100,
      cacheWriteTokens: 20,
    });
  });
});

describe('chat codec', () => {
  const body = parseBody(chatCodec.schema, { model: 'm', messages: [{ role: 'user', content: 'hello' }], n: 2, max_tokens: 100 });

  it('reserves max_tokens per choice and caches only temperature 0 with one choice', () => {
    expect(chatCodec.shape(body, 1024)).toMatchObject({ model: 'm', stream: false, maxOutputTokens: 200, cacheable: false });
    expect(chatCodec.shape({ ...body, n: 1, temperature: 0 }, 1024).cacheable).toBe(true);
    expect(chatCodec.shape({ ...body, n: null, temperature: 0 }, 1024).cacheable).toBe(true);
    expect(chatCodec.shape({ ...body, n: 1, temperature: 0.2 }, 1024).cacheable).toBe(false);
    expect(chatCodec.shape({ ...body, n: 1, temperature: undefined }, 1024).cacheable).toBe(false); // absent means 1
    expect(chatCodec.shape({ ...body, n: undefined, max_tokens: undefined }, 1024).maxOutputTokens).toBe(1024);
  });

  it('asks for usage in streams, keeping what the caller set', () => {
    expect(chatCodec.upstreamBody({ ...body, stream: true, stream_options: { include_usage: false, x: 1 } as never }).stream_options).toEqual({
      include_usage: true,
      x: 1,
    });
    expect(chatCodec.upstreamBody(body)).toBe(body);
  });

  it('reads events: the usage-only chunk dropped unless asked for, [DONE] final, errors flagged', () => {
    const usage = JSON.stringify({ choices: [], usage: { prompt_tokens: 1, completion_tokens: 2 } });
    expect(chatCodec.inspectEvent({ data: usage }, { ...body, stream: true })).toMatchObject({ drop: true, usage: { inputTokens: 1, outputTokens: 2 } });
    expect(chatCodec.inspectEvent({ data: usage }, { ...body, stream_options: { include_usage: true } }).drop).toBe(false);
    expect(chatCodec.inspectEvent({ data: '[DONE]' }, body)).toEqual({ final: true });
    expect(chatCodec.inspectEvent({ data: '{"error":{"message":"x"}}' }, body)).toEqual({ error: true });
    expect(chatCodec.inspectEvent({ data: '{"choices":[{"delta":{"content":"usage"}}]}' }, body)).toEqual({});
  });

  it('names the completion it created only when the caller stored it, and never caches that', () => {
    const answer = { id: 'chatcmpl-9', object: 'chat.completion', choices: [] };
    expect(chatCodec.createdIdFromJson!(answer, body)).toBeUndefined();
    expect(chatCodec.createdIdFromJson!(answer, { ...body, store: true })).toBe('chatcmpl-9');
    const usage = JSON.stringify({ id: 'chatcmpl-9', choices: [], usage: { prompt_tokens: 1, completion_tokens: 2 } });
    const delta = JSON.stringify({ id: 'chatcmpl-9', choices: [{ delta: { content: 'hi' } }] });
    expect(chatCodec.inspectEvent({ data: usage }, { ...body, stream: true, store: true }).createdId).toBe('chatcmpl-9');
    expect(chatCodec.inspectEvent({ data: delta }, { ...body, stream: true, store: true }).createdId).toBeUndefined();
    expect(chatCodec.inspectEvent({ data: usage }, { ...body, stream: true }).createdId).toBeUndefined();
    expect(chatCodec.shape({ ...body, n: 1, temperature: 0, store: true }, 1024).cacheable).toBe(false);
  });

  it('reads the text of a stream, tool-call arguments included', () => {
    const events = [
      JSON.stringify({ choices: [{ delta: { content: 'Hel' } }] }),
      JSON.stringify({ choices: [{ delta: { content: 'lo' } }] }),
      JSON.stringify({ choices: [{ delta: { tool_calls: [{ function: { arguments: '{"a":' } }] } }] }),
    ];
    expect(chatCodec.streamText(events)).toBe('Hello{"a":');
  });
});

describe('responses codec', () => {
  const parse = (b: object) => parseBody(responsesCodec.schema, { model: 'm', input: 'hi', ...b });

  it('caches only what is deterministic and stateless', () => {
    expect(responsesCodec.shape(parse({ temperature: 0 }), 100).cacheable).toBe(false); // stored by default
    expect(responsesCodec.shape(parse({ temperature: 0, store: false }), 100).cacheable).toBe(true);
    expect(responsesCodec.shape(parse({ temperature: 0, store: false, previous_response_id: 'resp_1' }), 100).cacheable).toBe(false);
    expect(responsesCodec.shape(parse({ max_output_tokens: 77 }), 100).maxOutputTokens).toBe(77);
  });

  it('names the stored objects a request builds on', () => {
    expect(referencedIds(parse({ previous_response_id: 'resp_1', conversation: { id: 'conv_2' } }))).toEqual(['resp_1', 'conv_2']);
    expect(referencedIds(parse({ conversation: 'conv_3' }))).toEqual(['conv_3']);
  });

  it('reads the created id, the final usage and the text of a stream', () => {
    const body = parse({ stream: true });
    expect(responsesCodec.inspectEvent({ event: 'response.created', data: JSON.stringify({ type: 'response.created', response: { id: 'resp_9' } }) }, body)).toEqual({
      createdId: 'resp_9',
    });
    const done = JSON.stringify({ type: 'response.completed', response: { id: 'resp_9', usage: { input_tokens: 3, output_tokens: 4 } } });
    expect(responsesCodec.inspectEvent({ data: done }, body)).toMatchObject({ final: true, usage: { inputTokens: 3, outputTokens: 4 }, error: false });
    const delta = JSON.stringify({ type: 'response.output_text.delta', delta: 'Hi there' });
    expect(responsesCodec.inspectEvent({ data: delta }, body)).toEqual({});
    expect(responsesCodec.streamText([delta, JSON.stringify({ type: 'response.function_call_arguments.delta', delta: '{}' })])).toBe('Hi there{}');
    expect(responsesCodec.createdIdFromJson!({ id: 'resp_1' }, body)).toBe('resp_1');
  });
});

describe('messages codec', () => {
  const body = parseBody(messagesCodec.schema, { model: 'claude', max_tokens: 300, messages: [{ role: 'user', content: 'hi' }] });

  it('requires max_tokens and reserves it', () => {
    expect(() => parseBody(messagesCodec.schema, { model: 'c', messages: [{ role: 'user', content: 'x' }] })).toThrow(/max_tokens/);
    expect(messagesCodec.shape(body, 1024).maxOutputTokens).toBe(300);
  });

  it('merges usage over message_start and message_delta; message_stop is final', () => {
    const start = messagesCodec.inspectEvent(
      { event: 'message_start', data: JSON.stringify({ type: 'message_start', message: { usage: { input_tokens: 10, output_tokens: 1, cache_read_input_tokens: 5 } } }) },
      body,
    );
    expect(start.usage).toMatchObject({ inputTokens: 15, cachedInputTokens: 5 });
    const delta = messagesCodec.inspectEvent({ event: 'message_delta', data: JSON.stringify({ type: 'message_delta', usage: { output_tokens: 42 } }) }, body);
    expect(delta.usage).toEqual({ outputTokens: 42 });
    expect(messagesCodec.inspectEvent({ event: 'message_stop', data: '{"type":"message_stop"}' }, body)).toEqual({ final: true });
    expect(messagesCodec.inspectEvent({ event: 'error', data: '{"type":"error"}' }, body)).toEqual({ error: true });
  });

  it('ends a failed stream with an Anthropic error event', () => {
    expect(messagesCodec.streamError('gone')).toEqual({ event: 'error', data: '{"type":"error","error":{"type":"api_error","message":"gone"}}' });
  });
});

describe('completions, embeddings, moderations', () => {
  it('completions reserve max_tokens for the best of n', () => {
    const b = parseBody(completionsCodec.schema, { model: 'm', prompt: 'x', max_tokens: 10, best_of: 3 });
    expect(completionsCodec.shape(b, 100).maxOutputTokens).toBe(30);
    expect(completionsCodec.streamText([JSON.stringify({ choices: [{ text: 'ab' }] }), JSON.stringify({ choices: [{ text: 'c' }] })])).toBe('abc');
  });

  it('embeddings reserve no output and are never cached', () => {
    const b = parseBody(embeddingsCodec.schema, { model: 'e', input: ['a', 'b'] });
    expect(embeddingsCodec.shape(b, 100)).toMatchObject({ maxOutputTokens: 0, cacheable: false, stream: false });
    expect(embeddingsCodec.usageFromJson({ usage: { prompt_tokens: 8, total_tokens: 8 } })).toMatchObject({ inputTokens: 8, outputTokens: 0 });
  });

  it('moderations default the model as OpenAI does', () => {
    expect(parseBody(moderationsCodec.schema, { input: 'x' }).model).toBe(DEFAULT_MODERATION_MODEL);
  });
});
