import { InvalidRequestError } from '../../../app/errors';
import { messagesToChatRequest } from '../../../app/translate/messages-to-chat-request';
import type { MessagesRequest } from '../../../app/translate/types';

const base = { model: 'm', max_tokens: 100 };

describe('messagesToChatRequest', () => {
  it('puts system first, maps sampling, stops, user id and streaming with usage', () => {
    const out = messagesToChatRequest({
      ...base,
      system: [{ type: 'text', text: 'one', cache_control: { type: 'ephemeral' } }, { type: 'text', text: 'two' }],
      messages: [{ role: 'user', content: 'hi' }],
      temperature: 0.5,
      top_p: 0.9,
      top_k: 5,
      stop_sequences: ['END'],
      metadata: { user_id: 'u1' },
      stream: true,
    });
    expect(out).toEqual({
      model: 'm',
      messages: [
        { role: 'system', content: 'one\n\ntwo' },
        { role: 'user', content: 'hi' },
      ],
      max_completion_tokens: 100,
      temperature: 0.5,
      top_p: 0.9,
      stop: ['END'],
      user: 'u1',
      stream: true,
      stream_options: { include_usage: true },
    });
  });

  it('turns tool_use into tool_calls and tool_result blocks into tool messages placed before the user text', () => {
    const out = messagesToChatRequest({
      ...base,
      messages: [
        { role: 'user', content: 'weather?' },
        {
          role: 'assistant',
          content: [
            { type: 'thinking', thinking: 'hmm', signature: 'sig' },
            { type: 'text', text: 'Checking.' },
            { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } },
          ],
        },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'and quickly' },
            { type: 'tool_result', tool_use_id: 'toolu_1', content: [{ type: 'text', text: '21C' }] },
          ],
        },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_2', content: 'boom', is_error: true }] },
      ],
    });
    expect(out.messages).toEqual([
      { role: 'user', content: 'weather?' },
      {
        role: 'assistant',
        content: 'Checking.',
        tool_calls: [{ id: 'toolu_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }],
      },
      { role: 'tool', tool_call_id: 'toolu_1', content: '21C' },
      { role: 'user', content: 'and quickly' },
      { role: 'tool', tool_call_id: 'toolu_2', content: 'Error: boom' },
    ]);
  });

  it('sends images as image_url parts (data URLs for base64) and tool-result images as user content', () => {
    const out = messagesToChatRequest({
      ...base,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAAA' } },
            { type: 'image', source: { type: 'url', url: 'https://x/y.png' } },
            { type: 'tool_result', tool_use_id: 't', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/jpeg', data: 'BBBB' } }] },
          ],
        },
      ],
    });
    expect(out.messages).toEqual([
      { role: 'tool', tool_call_id: 't', content: '' },
      {
        role: 'user',
        content: [
          { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } },
          { type: 'image_url', image_url: { url: 'https://x/y.png' } },
          { type: 'image_url', image_url: { url: 'data:image/jpeg;base64,BBBB' } },
        ],
      },
    ]);
  });

  it('maps tools and tool_choice, parallel use included', () => {
    const tools: MessagesRequest['tools'] = [{ name: 'f', description: 'does f', input_schema: { type: 'object' } }];
    const at = (tool_choice: MessagesRequest['tool_choice']) => messagesToChatRequest({ ...base, messages: [], tools, tool_choice });
    expect(at({ type: 'auto' }).tools).toEqual([{ type: 'function', function: { name: 'f', description: 'does f', parameters: { type: 'object' } } }]);
    expect(at({ type: 'any' }).tool_choice).toBe('required');
    expect(at({ type: 'none' }).tool_choice).toBe('none');
    expect(at({ type: 'tool', name: 'f', disable_parallel_tool_use: true })).toMatchObject({
      tool_choice: { type: 'function', function: { name: 'f' } },
      parallel_tool_calls: false,
    });
  });

  it('fails on server tools, naming the field', () => {
    expect(() =>
      messagesToChatRequest({ ...base, messages: [], tools: [{ name: 'web', type: 'web_search_20250305', input_schema: {} }] }),
    ).toThrow(expect.objectContaining({ param: 'tools[0].type' }) as unknown as InvalidRequestError);
  });
});
