import { DONE_EVENT, frameEvent } from '../../../app/upstream/sse';

describe('OpenAI framing for the mock', () => {
  it('frames a payload as one data event, and [DONE] last', () => {
    expect(frameEvent('{"a":1}')).toBe('data: {"a":1}\n\n');
    expect(DONE_EVENT).toBe('data: [DONE]\n\n');
  });
});
