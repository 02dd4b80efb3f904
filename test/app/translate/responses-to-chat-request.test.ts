import { responsesToChatRequest } from '../../../app/translate/responses-to-chat-request';
import type { ResponsesRequest } from '../../../app/translate/types';

describe('responsesToChatRequest', () => {
  it('takes a string input with instructions, limits and sampling', () => {
    expect(
      responsesToChatRequest({ model: 'm', input: 'hi', instructions: 'be brief', max_output_tokens: 30, temperature: 0.1, top_p: 0.5, store: false, stream: true }),
    ).toEqual({
      model: 'm',
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'hi' },
      ],
      max_completion_tokens: 30,
      temperature: 0.1,
      top_p: 0.5,
      stream: true,
      stream_options: { include_usage: true },
    });
  });

  it('maps message items, images, function calls (parallel ones in one turn) and their outputs', () => {
    const out = responsesToChatRequest({
      model: 'm',
      input: [
        { role: 'developer', content: 'rules' },
        { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'look ' }, { type: 'input_image', image_url: 'data:image/png;base64,AA', detail: 'low' }] },
        { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Checking' }] },
        { type: 'function_call', call_id: 'c1', name: 'f', arguments: '{"a":1}' },
        { type: 'function_call', call_id: 'c2', name: 'g', arguments: '{}' },
        { type: 'function_call_output', call_id: 'c1', output: 'one' },
        { type: 'function_call_output', call_id: 'c2', output: [{ type: 'input_text', text: 'two' }] },
      ],
      tools: [{ type: 'function', name: 'f', description: 'F', parameters: { type: 'object' }, strict: true }],
      tool_choice: { type: 'function', name: 'f' },
      parallel_tool_calls: false,
    });
    expect(out.messages).toEqual([
      { role: 'system', content: 'rules' },
      { role: 'user', content: [{ type: 'text', text: 'look ' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AA', detail: 'low' } }] },
      {
        role: 'assistant',
        content: 'Checking',
        tool_calls: [
          { id: 'c1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } },
          { id: 'c2', type: 'function', function: { name: 'g', arguments: '{}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'c1', content: 'one' },
      { role: 'tool', tool_call_id: 'c2', content: 'two' },
    ]);
    expect(out.tools).toEqual([{ type: 'function', function: { name: 'f', description: 'F', parameters: { type: 'object' }, strict: true } }]);
    expect(out.tool_choice).toEqual({ type: 'function', function: { name: 'f' } });
    expect(out.parallel_tool_calls).toBe(false);
  });

  it('maps text.format to response_format', () => {
    const schema = { type: 'object', properties: { a: { type: 'string' } } };
    expect(responsesToChatRequest({ model: 'm', input: 'x', text: { format: { type: 'json_schema', name: 'out', schema, strict: true } } }).response_format).toEqual({
      type: 'json_schema',
      json_schema: { name: 'out', schema, strict: true },
    });
    expect(responsesToChatRequest({ model: 'm', input: 'x', text: { format: { type: 'json_object' } } }).response_format).toEqual({ type: 'json_object' });
    expect(responsesToChatRequest({ model: 'm', input: 'x', text: { format: { type: 'text' } } }).response_format).toBeUndefined();
  });

  it.each<[Partial<ResponsesRequest>, string, RegExp]>([
    [{ store: true }, 'store', /not stored/],
    [{ previous_response_id: 'resp_1' }, 'previous_response_id', /whole conversation/],
    [{ conversation: 'conv_1' }, 'conversation', /whole conversation/],
    [{ background: true }, 'background', /background/],
    [{ reasoning: { effort: 'high' } }, 'reasoning', /reasoning/],
    [{ include: ['file_search_call.results'] }, 'include', /include/],
    [{ prompt: { id: 'p' } }, 'prompt', /prompt/],
    [{ tools: [{ type: 'web_search' }] }, 'tools[0].type', /web_search/],
    [{ input: [{ type: 'input_file' as never, file_id: 'f' } as never] }, 'input[0].type', /input_file/],
    [{ input: [{ role: 'user', content: [{ type: 'input_image', file_id: 'f' }] }] }, 'input[0].content[0].image_url', /file_id/],
    [{ tool_choice: { type: 'web_search' }, tools: [{ type: 'function', name: 'f' }] }, 'tool_choice', /web_search/],
  ])('refuses %j with a 400 naming %s', (extra, param, message) => {
    expect(() => responsesToChatRequest({ model: 'm', input: 'x', ...extra } as ResponsesRequest)).toThrow(
      expect.objectContaining({ status: 400, param, message: expect.stringMatching(message) }),
    );
  });

  it('lenient (the offline mock): stateful fields and other tools are accepted and ignored', () => {
    const out = responsesToChatRequest(
      { model: 'm', input: 'x', store: true, previous_response_id: 'r', tools: [{ type: 'web_search' }] },
      { lenient: true },
    );
    expect(out.tools).toBeUndefined();
  });
});
