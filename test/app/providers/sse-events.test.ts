import { frameSse, parseSseEvent, sseEvents } from '../../../app/providers/sse-events';
import { collect } from '../../support/provider-request';

async function* pieces(...parts: string[]): AsyncGenerator<Buffer> {
  for (const p of parts) yield Buffer.from(p);
}

describe('sse events', () => {
  it('keeps event names, joins multi-line data and drops comments', async () => {
    const events = await collect(
      sseEvents(pieces(': ping sk-secret\n\nevent: message_start\ndata: {"a":\n', 'data: 1}\n\r\n', 'data: [DONE]\n\n')),
    );
    expect(events).toEqual([{ event: 'message_start', data: '{"a":\n1}' }, { data: '[DONE]' }]);
  });

  it('splits UTF-8 characters across chunks correctly and reads an unterminated last event', async () => {
    const bytes = Buffer.from('data: "héllo"\n\ndata: tail');
    const events = await collect(sseEvents((async function* () {
      yield bytes.subarray(0, 9);
      yield bytes.subarray(9);
    })()));
    expect(events).toEqual([{ data: '"héllo"' }, { data: 'tail' }]);
  });

  it('frames and parses back', () => {
    const e = { event: 'x', data: 'a\nb' };
    expect(parseSseEvent(frameSse(e).trimEnd())).toEqual(e);
    expect(parseSseEvent(': only a comment')).toBeUndefined();
  });
});
