import { frameEvent } from '../../../app/pipeline/sse-frame';
import { DONE_EVENT } from '../../../app/upstream/mock-upstream';

describe('server-sent event framing (the gateway and its offline mock)', () => {
  it('frames a payload as one data event, named when it has a name, and [DONE] as OpenAI ends a stream', () => {
    expect(frameEvent({ data: '{"a":1}' })).toBe('data: {"a":1}\n\n');
    expect(frameEvent({ event: 'response.created', data: '{}' })).toBe('event: response.created\ndata: {}\n\n');
    expect(DONE_EVENT).toBe('data: [DONE]\n\n');
  });

  it('prefixes every line of a multi-line payload', () => {
    expect(frameEvent({ data: 'a\nb\r\nc' })).toBe('data: a\ndata: b\ndata: c\n\n');
  });
});
