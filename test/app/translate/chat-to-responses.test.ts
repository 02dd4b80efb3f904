import { ChatToResponsesStream } from '../../../app/translate/chat-stream-to-responses';
import { chatToResponse } from '../../../app/translate/chat-to-response';
import type { ChatChunk, ChatCompletion, ResponsesRequest } from '../../../app/translate/types';
import { expectSchema } from '../../support/openapi';
import { expectResponseEvent } from '../../support/responses-events';

const request: ResponsesRequest = {
  model: 'm',
  input: 'x',
  instructions: 'be brief',
  tools: [{ type: 'function', name: 'f', parameters: { type: 'object' } }],
  max_output_tokens: 100,
};

const chunk = (delta: ChatChunk['choices'][number]['delta'], finish: ChatChunk['choices'][number]['finish_reason'] = null): ChatChunk => ({
  id: 'c',
  object: 'chat.completion.chunk',
  created: 1,
  model: 'provider-model',
  choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
});

describe('chatToResponse', () => {
  const completion = (finish: ChatCompletion['choices'][number]['finish_reason']): ChatCompletion => ({
    id: 'c',
    object: 'chat.completion',
    created: 1700000000,
    model: 'provider-model',
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: 'Hello', refusal: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'f', arguments: '{}' } }] },
        logprobs: null,
        finish_reason: finish,
      },
    ],
    usage: { prompt_tokens: 10, completion_tokens: 4, total_tokens: 14, prompt_tokens_details: { cached_tokens: 2 }, completion_tokens_details: { reasoning_tokens: 1 } },
  });

  it('is a valid Response with a message and a function call, echoing the request', () => {
    const r = chatToResponse(completion('tool_calls'), request);
    expectSchema('Response', r);
    expect(r.id).toMatch(/^resp_/);
    expect(r).toMatchObject({
      status: 'completed',
      instructions: 'be brief',
      max_output_tokens: 100,
      model: 'provider-model',
      store: false,
      tools: [{ type: 'function', name: 'f', strict: true, parameters: { type: 'object' }, description: null }],
      usage: { input_tokens: 10, output_tokens: 4, total_tokens: 14, input_tokens_details: { cached_tokens: 2 }, output_tokens_details: { reasoning_tokens: 1 } },
    });
    expect(r.output.map((o) => o.type)).toEqual(['message', 'function_call']);
    expect(r.output[1]).toMatchObject({ call_id: 'call_1', name: 'f', arguments: '{}', id: expect.stringMatching(/^fc_/) });
  });

  it('is incomplete with max_output_tokens when the model ran out', () => {
    const r = chatToResponse(completion('length'), request);
    expectSchema('Response', r);
    expect([r.status, r.incomplete_details]).toEqual(['incomplete', { reason: 'max_output_tokens' }]);
  });
});

describe('ChatToResponsesStream', () => {
  it('emits valid events in order, numbered from 0, and a completed response that matches them', () => {
    const t = new ChatToResponsesStream(request);
    const events = [
      chunk({ role: 'assistant', content: '' }),
      chunk({ content: 'Hel' }),
      chunk({ content: 'lo' }),
      chunk({ tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'f', arguments: '' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '{"a"' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: ':1}' } }] }),
      chunk({ tool_calls: [{ index: 1, id: 'call_2', type: 'function', function: { name: 'f', arguments: '{}' } }] }),
      chunk({}, 'tool_calls'),
      { ...chunk({}), choices: [], usage: { prompt_tokens: 9, completion_tokens: 3, total_tokens: 12 } },
    ].flatMap((c) => t.push(c));
    events.push(...t.end());
    events.forEach((e, i) => {
      expectResponseEvent(e);
      expect(e.sequence_number).toBe(i);
    });
    expect(events.map((e) => e.type)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.output_item.added',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.done',
      'response.output_item.done',
      'response.output_item.added',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.done',
      'response.output_item.done',
      'response.completed',
    ]);
    const created = events[0] as unknown as { response: { status: string; output: unknown[]; id: string } };
    expect([created.response.status, created.response.output]).toEqual(['in_progress', []]);
    const done = events[events.length - 1] as unknown as { response: { id: string; output: Array<Record<string, unknown>>; usage: { input_tokens: number } } };
    expect(done.response.id).toBe(created.response.id);
    expect(done.response.output).toMatchObject([
      { type: 'message', status: 'completed', content: [{ type: 'output_text', text: 'Hello' }] },
      { type: 'function_call', call_id: 'call_1', arguments: '{"a":1}', status: 'completed' },
      { type: 'function_call', call_id: 'call_2', arguments: '{}', status: 'completed' },
    ]);
    expect(done.response.usage.input_tokens).toBe(9);
    const textDone = events.find((e) => e.type === 'response.output_text.done') as unknown as { text: string; item_id: string };
    expect(textDone.text).toBe('Hello');
    expect(textDone.item_id).toBe(done.response.output[0].id);
  });

  it('ends as response.incomplete when the model ran out of tokens', () => {
    const t = new ChatToResponsesStream(request);
    const events = [...t.push(chunk({ content: 'Hi' })), ...t.push(chunk({}, 'length')), ...t.end()];
    events.forEach(expectResponseEvent);
    const last = events[events.length - 1] as unknown as { type: string; response: { status: string; incomplete_details: unknown } };
    expect([last.type, last.response.status, last.response.incomplete_details]).toEqual([
      'response.incomplete',
      'incomplete',
      { reason: 'max_output_tokens' },
    ]);
  });
});
