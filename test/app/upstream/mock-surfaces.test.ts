import { mockCompletion, mockCompletionChunks, mockModeration } from '../../../app/upstream/mock-legacy';
import { mockResponse, mockResponseEvents } from '../../../app/upstream/mock-responses-api';
import { loadConfig } from '../../../app/config';
import { MOCK_BODY_LIMIT_BYTES, mockReply } from '../../../app/upstream/mock-upstream';
import { expectSchema } from '../../support/openapi';
import { expectResponseEvent } from '../../support/responses-events';

describe('mock Responses, completions and moderations', () => {
  it('accepts every body the gateway accepts by default (offline, a 20 MB image is not a 413)', () => {
    expect(MOCK_BODY_LIMIT_BYTES).toBeGreaterThan(loadConfig({}).BODY_LIMIT_BYTES);
  });


  it('answers the same request with the same response, stored unless store: false', () => {
    const body = { model: 'gpt-4o', input: 'hello', instructions: 'be brief' };
    const a = mockResponse(body, { created: 1700000000 });
    expectSchema('Response', a);
    expect(a.id).toBe(mockResponse(body, { created: 1700000000 }).id);
    expect(a.store).toBe(true);
    expect(mockResponse({ ...body, store: false }).store).toBe(false);
  });

  it('streams Responses events whose completed response carries usage', () => {
    const events = mockResponseEvents({ model: 'gpt-4o', input: 'hello there', max_output_tokens: 3 }, { created: 1 });
    events.forEach(expectResponseEvent);
    const last = events[events.length - 1] as unknown as { type: string; response: { usage: { output_tokens: number } } };
    expect(last.type).toBe('response.incomplete');
    expect(last.response.usage.output_tokens).toBe(3);
  });

  it('answers legacy completions, one choice per prompt and n, max_tokens defaulting to 16', () => {
    const c = mockCompletion({ model: 'gpt-3.5-turbo-instruct', prompt: ['a', 'b'], n: 2 });
    expectSchema('CreateCompletionResponse', c);
    expect(c.choices.map((ch) => ch.index)).toEqual([0, 1, 2, 3]);
    const chunks = mockCompletionChunks({ model: 'x', prompt: 'a', max_tokens: 2, stream_options: { include_usage: true } });
    expect(chunks.filter((ch) => ch.choices[0]?.finish_reason === 'length')).toHaveLength(1);
    expect(chunks[chunks.length - 1].usage?.completion_tokens).toBe(2);
  });

  it('flags moderation input containing "kill" as violence: one result per string, one for a multimodal list', () => {
    const strings = mockModeration({ input: ['kill it', 'hello'] });
    expectSchema('CreateModerationResponse', strings);
    expect(strings.results.map((r) => r.flagged)).toEqual([true, false]);
    const multimodal = mockModeration({ input: [{ type: 'text', text: 'kill it' }, { type: 'image_url', image_url: { url: 'x' } }] });
    expectSchema('CreateModerationResponse', multimodal);
    expect(multimodal.results).toHaveLength(1);
    expect(multimodal.results[0].category_applied_input_types.violence).toEqual(['text', 'image']);
    expect(multimodal.results[0].category_applied_input_types.hate).toEqual(['text']);
  });

  it('routes the new paths and validates their required fields', () => {
    expect(mockReply('POST', '/v1/responses', '{"model":"m","input":"x","stream":true}')).toMatchObject({ kind: 'sse', named: true });
    expect(mockReply('POST', '/v1/completions', '{"model":"m"}')).toMatchObject({ status: 400, body: { error: { param: 'prompt' } } });
    expect(mockReply('POST', '/v1/moderations', '{}')).toMatchObject({ status: 400, body: { error: { param: 'input' } } });
    expect(mockReply('POST', '/v1/moderations', '{"input":"x"}')).toMatchObject({ status: 200 });
  });
});
