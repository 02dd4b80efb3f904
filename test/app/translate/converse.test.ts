import { chatToConverse } from '../../../app/translate/chat-to-converse';
import { ConverseToChatStream } from '../../../app/translate/converse-stream-to-chat';
import { converseToChat } from '../../../app/translate/converse-to-chat';
import type { ChatRequest } from '../../../app/translate/types';
import { fakeConverseEvents } from '../../support/fake-converse';
import { expectSchema } from '../../support/openapi';

const tools: ChatRequest['tools'] = [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }];

describe('chatToConverse', () => {
  it('merges same-role turns, drops blank text and sends tool results in the user turn', () => {
    const { input } = chatToConverse({
      model: 'm',
      messages: [
        { role: 'user', content: 'a' },
        { role: 'user', content: [{ type: 'text', text: 'b' }, { type: 'text', text: '  ' }] },
        { role: 'assistant', content: '', tool_calls: [{ id: 't1', type: 'function', function: { name: 'f', arguments: '' } }] },
        { role: 'tool', tool_call_id: 't1', content: '' },
        { role: 'user', content: 'next' },
      ],
      tools,
      tool_choice: 'none',
    });
    expect(input.messages).toEqual([
      { role: 'user', content: [{ text: 'a' }, { text: 'b' }] },
      { role: 'assistant', content: [{ toolUse: { toolUseId: 't1', name: 'f', input: {} } }] },
      { role: 'user', content: [{ toolResult: { toolUseId: 't1', content: [{ text: '(empty)' }] } }, { text: 'next' }] },
    ]);
    // tool blocks in the history need the tool definitions, even with tool_choice none
    expect(input.toolConfig).toEqual({ tools: [{ toolSpec: { name: 'f', description: 'f', inputSchema: { json: { type: 'object' } } } }] });
  });

  it('leaves tools out for tool_choice none without tool history; maps auto and a named function', () => {
    const msgs: ChatRequest['messages'] = [{ role: 'user', content: 'x' }];
    expect(chatToConverse({ model: 'm', messages: msgs, tools, tool_choice: 'none' }).input.toolConfig).toBeUndefined();
    expect(chatToConverse({ model: 'm', messages: msgs, tools, tool_choice: 'auto' }).input.toolConfig?.toolChoice).toEqual({ auto: {} });
    expect(chatToConverse({ model: 'm', messages: msgs, tools, tool_choice: { type: 'function', function: { name: 'f' } } }).input.toolConfig?.toolChoice).toEqual({
      tool: { name: 'f' },
    });
  });

  it('turns response_format into one forced tool, and refuses it beside other tools', () => {
    const t = chatToConverse({ model: 'm', messages: [{ role: 'user', content: 'x' }], response_format: { type: 'json_object' } });
    expect(t.jsonTool).toBe('json_response');
    expect(t.input.toolConfig).toMatchObject({ toolChoice: { tool: { name: 'json_response' } }, tools: [{ toolSpec: { inputSchema: { json: { type: 'object' } } } }] });
    expect(() =>
      chatToConverse({ model: 'm', messages: [], tools, response_format: { type: 'json_schema', json_schema: { name: 'x' } } }),
    ).toThrow(expect.objectContaining({ param: 'response_format' }));
  });

  it('refuses unsupported image types', () => {
    expect(() =>
      chatToConverse({ model: 'm', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/bmp;base64,AA' } }] }] }),
    ).toThrow(/bmp/);
  });
});

describe('converseToChat', () => {
  it('counts cache reads and writes into prompt tokens, cached reads shown apart', () => {
    const c = converseToChat(
      {
        output: { message: { role: 'assistant', content: [{ text: 'Hi' }] } },
        stopReason: 'end_turn',
        usage: { inputTokens: 10, outputTokens: 3, totalTokens: 63, cacheReadInputTokens: 40, cacheWriteInputTokens: 10 },
      },
      { model: 'nova' },
    );
    expectSchema('CreateChatCompletionResponse', c);
    expect(c.usage).toMatchObject({ prompt_tokens: 60, completion_tokens: 3, total_tokens: 63, prompt_tokens_details: { cached_tokens: 40 }, cache_creation_input_tokens: 10 });
  });

  it.each([
    ['end_turn', 'stop'],
    ['stop_sequence', 'stop'],
    ['tool_use', 'tool_calls'],
    ['max_tokens', 'length'],
    ['guardrail_intervened', 'content_filter'],
    ['content_filtered', 'content_filter'],
  ] as const)('maps stopReason %s to %s', (stop, finish) => {
    expect(converseToChat({ output: { message: { role: 'assistant', content: [] } }, stopReason: stop, usage: undefined }, { model: 'm' }).choices[0].finish_reason).toBe(finish);
  });
});

describe('ConverseToChatStream', () => {
  it('turns a ConverseStream into valid chunks: tool deltas, then finish, then usage', () => {
    const body = { messages: [{ role: 'user', content: [{ text: 'please use a tool' }] }], toolConfig: { tools: [{ toolSpec: { name: 'f' } }] } };
    const t = new ConverseToChatStream('nova');
    const chunks = fakeConverseEvents('nova', body).flatMap(([type, payload]) => t.push({ [type]: payload } as never));
    chunks.push(...t.end());
    chunks.forEach((c) => expectSchema('CreateChatCompletionStreamResponse', c));
    expect(t.complete).toBe(true);
    const calls = chunks.flatMap((c) => c.choices.flatMap((ch) => ch.delta.tool_calls ?? []));
    expect(calls[0]).toMatchObject({ index: 0, function: { name: 'f' } });
    expect(JSON.parse(calls.map((c) => c.function?.arguments ?? '').join(''))).toEqual({ query: 'please use a tool', limit: 3 });
    expect(chunks[chunks.length - 2].choices[0].finish_reason).toBe('tool_calls');
    expect(chunks[chunks.length - 1]).toMatchObject({ choices: [], usage: { completion_tokens: 12 } });
  });

  it('streams the forced response_format tool as content and finishes with stop', () => {
    const t = new ConverseToChatStream('nova', 'answer');
    const chunks = [
      t.push({ contentBlockStart: { contentBlockIndex: 0, start: { toolUse: { toolUseId: 'x', name: 'answer' } } } }),
      t.push({ contentBlockDelta: { contentBlockIndex: 0, delta: { toolUse: { input: '{"a":' } } } }),
      t.push({ contentBlockDelta: { contentBlockIndex: 0, delta: { toolUse: { input: '1}' } } } }),
      t.push({ messageStop: { stopReason: 'tool_use' } }),
      t.end(),
    ].flat();
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('{"a":1}');
    expect(chunks.some((c) => c.choices[0]?.delta.tool_calls)).toBe(false);
    expect(chunks[chunks.length - 2].choices[0].finish_reason).toBe('stop');
  });

  it('is not complete without a stop reason', () => {
    const t = new ConverseToChatStream('nova');
    t.push({ messageStart: { role: 'assistant' } });
    expect(t.end()).toEqual([]);
    expect(t.complete).toBe(false);
  });
});
