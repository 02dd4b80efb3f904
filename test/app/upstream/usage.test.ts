import { mockChatCompletion } from '../../../app/upstream/mock-responses';
import { usageFromJson } from '../../../app/upstream/usage';

describe('usageFromJson', () => {
  it('reads the usage of a chat completion without parsing the rest', () => {
    const answer = mockChatCompletion({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
    expect(usageFromJson(JSON.stringify(answer))).toEqual(answer.usage);
    expect(usageFromJson(JSON.stringify(answer, null, 2))).toEqual(answer.usage);
  });

  it('is not fooled by a "usage" key inside message text', () => {
    const text = JSON.stringify({
      usage: { prompt_tokens: 3, completion_tokens: 4 },
      choices: [{ message: { content: '{"usage": {"prompt_tokens": 999, "completion_tokens": 999}}' } }],
    });
    expect(usageFromJson(text)).toEqual({ prompt_tokens: 3, completion_tokens: 4 });
  });

  it('answers undefined for no usage, null usage and text that is not JSON', () => {
    expect(usageFromJson('{"id":"x","choices":[]}')).toBeUndefined();
    expect(usageFromJson('{"id":"x","usage":null}')).toBeUndefined();
    expect(usageFromJson('{"id":"x","usage":{"prompt_tokens":1')).toBeUndefined();
    expect(usageFromJson('')).toBeUndefined();
  });

  it('falls back to a full parse for shapes it does not expect, answering what it would', () => {
    expect(usageFromJson('{"usage" : { "prompt_tokens" : 2 , "completion_tokens": 5 } }')).toEqual({
      prompt_tokens: 2,
      completion_tokens: 5,
    });
    expect(usageFromJson('{"usage":{"total":"x"},"a":1}')).toEqual({ total: 'x' });
  });
});
