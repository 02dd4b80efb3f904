import { ChatToMessagesStream } from '../../../app/translate/chat-stream-to-messages';
import { chatToMessagesResponse } from '../../../app/translate/chat-to-messages-response';
import type { ChatChunk, ChatCompletion } from '../../../app/translate/types';
import { UpstreamError } from '../../../app/errors';

const chunk = (delta: ChatChunk['choices'][number]['delta'], finish: ChatChunk['choices'][number]['finish_reason'] = null): ChatChunk => ({
  id: 'chatcmpl-abc',
  object: 'chat.completion.chunk',
  created: 1,
  model: 'gpt',
  choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
});

describe('chatToMessagesResponse', () => {
  it('builds text and tool_use blocks, the stop reason and Anthropic usage (cache reads apart)', () => {
    const completion: ChatCompletion = {
      id: 'chatcmpl-abc',
      object: 'chat.completion',
      created: 1,
      model: 'gpt',
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: 'Checking.',
            refusal: null,
            tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }],
          },
          logprobs: null,
          finish_reason: 'tool_calls',
        },
      ],
      usage: { prompt_tokens: 100, completion_tokens: 20, total_tokens: 120, prompt_tokens_details: { cached_tokens: 60 } },
    };
    expect(chatToMessagesResponse(completion)).toEqual({
      id: 'msg_abc',
      type: 'message',
      role: 'assistant',
      model: 'gpt',
      content: [
        { type: 'text', text: 'Checking.' },
        { type: 'tool_use', id: 'call_1', name: 'f', input: { a: 1 } },
      ],
      stop_reason: 'tool_use',
      stop_sequence: null,
      usage: { input_tokens: 40, output_tokens: 20, cache_read_input_tokens: 60, cache_creation_input_tokens: 0 },
    });
  });
});

describe('ChatToMessagesStream', () => {
  it('opens and closes blocks as the kind of delta changes, and ends with stop reason and usage', () => {
    const t = new ChatToMessagesStream('fallback');
    const events = [
      chunk({ role: 'assistant', content: '' }),
      chunk({ content: 'Hi ' }),
      chunk({ content: 'there' }),
      chunk({ tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'f', arguments: '' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '{"a":' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '1}' } }] }),
      chunk({ tool_calls: [{ index: 1, id: 'call_2', type: 'function', function: { name: 'g', arguments: '{}' } }] }),
      chunk({}, 'tool_calls'),
      { ...chunk({}), choices: [], usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 } },
    ].flatMap((c) => t.push(c));
    events.push(...t.end());
    expect(events.map((e) => [e.type, 'index' in e ? e.index : undefined])).toEqual([
      ['message_start', undefined],
      ['content_block_start', 0],
      ['content_block_delta', 0],
      ['content_block_delta', 0],
      ['content_block_stop', 0],
      ['content_block_start', 1],
      ['content_block_delta', 1],
      ['content_block_delta', 1],
      ['content_block_stop', 1],
      ['content_block_start', 2],
      ['content_block_delta', 2],
      ['content_block_stop', 2],
      ['message_delta', undefined],
      ['message_stop', undefined],
    ]);
    expect(events[0]).toMatchObject({ message: { id: 'msg_abc', model: 'gpt', content: [], stop_reason: null } });
    expect(events[5]).toEqual({ type: 'content_block_start', index: 1, content_block: { type: 'tool_use', id: 'call_1', name: 'f', input: {} } });
    expect(events[12]).toEqual({
      type: 'message_delta',
      delta: { stop_reason: 'tool_use', stop_sequence: null },
      usage: { input_tokens: 10, output_tokens: 5, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 },
    });
    expect(t.end()).toEqual([]);
  });

  it('tells calls apart by id when a server sends them whole without an index', () => {
    const t = new ChatToMessagesStream('m');
    const noIndex = (id: string, name: string) => chunk({ tool_calls: [{ id, type: 'function', function: { name, arguments: '{}' } } as never] });
    const events = [...t.push(noIndex('a', 'f')), ...t.push(noIndex('b', 'g')), ...t.end()];
    const starts = events.filter((e) => e.type === 'content_block_start');
    expect(starts.map((e) => (e as { content_block: { id: string } }).content_block.id)).toEqual(['a', 'b']);
  });

  it('an empty stream still forms a whole message; length maps to max_tokens', () => {
    const t = new ChatToMessagesStream('m');
    t.push(chunk({}, 'length'));
    const events = t.end();
    expect(events.map((e) => e.type)).toEqual(['message_delta', 'message_stop']);
    expect(events[0]).toMatchObject({ delta: { stop_reason: 'max_tokens' } });
  });

  it('throws on an error payload', () => {
    expect(() => new ChatToMessagesStream('m').push({ error: { message: 'x' } })).toThrow(UpstreamError);
  });
});
