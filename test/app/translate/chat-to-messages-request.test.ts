import { chatToMessagesRequest, DEFAULT_MAX_TOKENS } from '../../../app/translate/chat-to-messages-request';
import type { ChatRequest } from '../../../app/translate/types';

describe('chatToMessagesRequest', () => {
  it('moves system and developer messages to system, merges turns, tool messages as tool_result', () => {
    const body: ChatRequest = {
      model: 'claude',
      messages: [
        { role: 'system', content: 'rule one' },
        { role: 'developer', content: [{ type: 'text', text: 'rule two' }] },
        { role: 'user', content: 'weather?' },
        { role: 'assistant', content: '', tool_calls: [{ id: 'c1', type: 'function', function: { name: 'w', arguments: '{"city":"Oslo"}' } }] },
        { role: 'tool', tool_call_id: 'c1', content: 'cold' },
        { role: 'user', content: 'thanks' },
      ],
      stop: 'END',
      user: 'u9',
      temperature: 0.3,
    };
    expect(chatToMessagesRequest(body).request).toEqual({
      model: 'claude',
      max_tokens: DEFAULT_MAX_TOKENS,
      system: [
        { type: 'text', text: 'rule one' },
        { type: 'text', text: 'rule two' },
      ],
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'weather?' }] },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'c1', name: 'w', input: { city: 'Oslo' } }] },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'c1', content: 'cold' },
            { type: 'text', text: 'thanks' },
          ],
        },
      ],
      stop_sequences: ['END'],
      metadata: { user_id: 'u9' },
      temperature: 0.3,
    });
  });

  it('maps images, tools, tool_choice and parallel_tool_calls', () => {
    const { request: out } = chatToMessagesRequest({
      model: 'c',
      max_completion_tokens: 50,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } },
            { type: 'image_url', image_url: { url: 'https://x/y.png' } },
          ],
        },
      ],
      tools: [{ type: 'function', function: { name: 'f', description: 'F', parameters: { type: 'object' } } }],
      tool_choice: 'required',
      parallel_tool_calls: false,
    });
    expect(out.max_tokens).toBe(50);
    expect(out.messages[0].content).toEqual([
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAAA' } },
      { type: 'image', source: { type: 'url', url: 'https://x/y.png' } },
    ]);
    expect(out.tools).toEqual([{ name: 'f', description: 'F', input_schema: { type: 'object' } }]);
    expect(out.tool_choice).toEqual({ type: 'any', disable_parallel_tool_use: true });
  });

  it.each([
    [{ n: 2 }, 'n'],
    [{ logprobs: true }, 'logprobs'],
    [{ response_format: { type: 'json_object' }, tools: [{ type: 'function', function: { name: 'f' } }] }, 'response_format'],
  ])('fails on %j, naming %s', (extra, param) => {
    expect(() => chatToMessagesRequest({ model: 'c', messages: [{ role: 'user', content: 'x' }], ...extra } as ChatRequest)).toThrow(
      expect.objectContaining({ status: 400, param }),
    );
  });

  it('fails on tool arguments that are not a JSON object', () => {
    expect(() =>
      chatToMessagesRequest({
        model: 'c',
        messages: [{ role: 'assistant', tool_calls: [{ id: 'a', type: 'function', function: { name: 'f', arguments: '[1]' } }] }],
      }),
    ).toThrow(expect.objectContaining({ param: 'messages[0].tool_calls[0].function.arguments' }));
  });
});

describe('response_format on Claude', () => {
  it('becomes one forced tool with the schema as its input schema', () => {
    const schema = { type: 'object', properties: { city: { type: 'string' } } };
    const t = chatToMessagesRequest({
      model: 'c',
      messages: [{ role: 'user', content: 'x' }],
      response_format: { type: 'json_schema', json_schema: { name: 'place', schema } },
    });
    expect(t.jsonTool).toBe('place');
    expect(t.request.tools).toEqual([{ name: 'place', description: 'Give the whole answer as this tool input.', input_schema: schema }]);
    expect(t.request.tool_choice).toEqual({ type: 'tool', name: 'place' });
  });
});
