import { DONE_EVENT, SseSplitter, eventData, frameEvent, inspectEvent } from '../../../app/upstream/sse';

const CHUNK = (content: string) =>
  JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content } }] });
const USAGE_ONLY = JSON.stringify({
  id: 'chatcmpl-1',
  object: 'chat.completion.chunk',
  choices: [],
  usage: { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 },
});

/** A stream with a comment, multi-line data, an event field, unicode and `[DONE]`. */
const EVENTS = [': keep-alive', `data: ${CHUNK('héllo 👋')}`, 'event: note\ndata: line one\ndata: line two', `data: ${USAGE_ONLY}`, 'data: [DONE]'];
const LF_STREAM = EVENTS.map((e) => `${e}\n\n`).join('');
const CRLF_STREAM = EVENTS.map((e) => `${e.replace(/\n/g, '\r\n')}\r\n\r\n`).join('');

function splitAll(chunks: string[]): { events: string[]; rest: string } {
  const s = new SseSplitter();
  const events = chunks.flatMap((c) => s.push(c));
  return { events, rest: s.rest() };
}

describe('SseSplitter', () => {
  it('splits a whole stream into its events, without terminators', () => {
    expect(splitAll([LF_STREAM])).toEqual({ events: EVENTS, rest: '' });
  });

  it.each([
    ['LF', LF_STREAM],
    ['CRLF', CRLF_STREAM],
  ])('yields identical events whichever offset a %s stream is cut at (two and three pieces)', (_, stream) => {
    const whole = splitAll([stream]);
    expect(whole.events).toHaveLength(EVENTS.length);
    const expected = JSON.stringify(whole);
    const differing: string[] = [];
    for (let i = 0; i <= stream.length; i++) {
      if (JSON.stringify(splitAll([stream.slice(0, i), stream.slice(i)])) !== expected) differing.push(`${i}`);
      for (let j = i; j <= stream.length; j += 5) {
        const got = splitAll([stream.slice(0, i), stream.slice(i, j), stream.slice(j)]);
        if (JSON.stringify(got) !== expected) differing.push(`${i},${j}`);
      }
    }
    expect(differing).toEqual([]);
  });

  it('yields identical events when fed one character at a time', () => {
    expect(splitAll([...CRLF_STREAM])).toEqual(splitAll([CRLF_STREAM]));
  });

  it('reads CRLF-framed events the same as LF ones', () => {
    expect(splitAll([CRLF_STREAM]).events.map(eventData)).toEqual(splitAll([LF_STREAM]).events.map(eventData));
  });

  it('keeps an unterminated tail until the stream ends, then hands it over once', () => {
    const s = new SseSplitter();
    expect(s.push('data: {"a":1}\n\ndata: {"b"')).toEqual(['data: {"a":1}']);
    expect(s.push(':2}\n')).toEqual([]);
    expect(s.rest()).toBe('data: {"b":2}\n');
    expect(s.rest()).toBe('');
  });
});

describe('eventData', () => {
  it('returns the payload of a single data line, with or without the space', () => {
    expect(eventData('data: {"x":1}')).toBe('{"x":1}');
    expect(eventData('data:{"x":1}')).toBe('{"x":1}');
    expect(eventData('data: [DONE]')).toBe('[DONE]');
  });

  it('joins multi-line data with newlines and ignores other fields', () => {
    expect(eventData('event: note\nid: 4\ndata: line one\ndata:line two')).toBe('line one\nline two');
    expect(eventData('data: a\r\ndata: b')).toBe('a\nb');
  });

  it('returns undefined for comments and events without data', () => {
    expect(eventData(': keep-alive')).toBeUndefined();
    expect(eventData('event: ping\nid: 1')).toBeUndefined();
    expect(eventData('')).toBeUndefined();
  });

  it('keeps an empty data line as an empty payload', () => {
    expect(eventData('data: ')).toBe('');
  });

  it('frames a payload back into the same event', () => {
    expect(frameEvent('{"x":1}')).toBe('data: {"x":1}\n\n');
    expect(new SseSplitter().push(frameEvent('{"x":1}') + DONE_EVENT).map(eventData)).toEqual(['{"x":1}', '[DONE]']);
  });
});

describe('inspectEvent', () => {
  it('finds usage in the usage-only chunk and marks it usage-only', () => {
    expect(inspectEvent(USAGE_ONLY)).toEqual({
      usage: { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 },
      usageOnly: true,
      error: false,
    });
  });

  it('finds usage on a chunk that also has choices, without marking it usage-only', () => {
    const data = JSON.stringify({ choices: [{ index: 0, delta: {} }], usage: { prompt_tokens: 1, completion_tokens: 2 } });
    expect(inspectEvent(data)).toEqual({ usage: { prompt_tokens: 1, completion_tokens: 2 }, usageOnly: false, error: false });
  });

  it.each([
    ['compact', '{"choices":[{"index":0,"delta":{"content":"x"}}],"usage":null}'],
    ['spaced', '{"choices": [{"index": 0, "delta": {"content": "x"}}], "usage": null}'],
  ])('reports nothing for a %s usage:null chunk', (_, data) => {
    expect(inspectEvent(data)).toEqual({ usageOnly: false, error: false });
    expect(inspectEvent(data).usage).toBeUndefined();
  });

  it('reports nothing for an ordinary content chunk', () => {
    expect(inspectEvent(CHUNK('the word "usage" in quotes'))).toEqual({ usageOnly: false, error: false });
  });

  it('flags an error event', () => {
    const data = JSON.stringify({ error: { message: 'boom', type: 'server_error', param: null, code: null } });
    expect(inspectEvent(data)).toEqual({ usage: undefined, usageOnly: false, error: true });
  });

  it.each(['{"usage": {"prompt_tokens": 1, oops', '{"error": not json', 'plain text', ''])(
    'reports nothing, without throwing, for non-JSON %j',
    (data) => {
      expect(inspectEvent(data)).toEqual({ usageOnly: false, error: false });
    },
  );
});
