import { parseJson, toJson } from '../../../app/lib/json';

describe('parseJson / toJson', () => {
  it('keeps an integer beyond 2^53 digit for digit', () => {
    const text = '{"model":"m","seed":9223372036854775807,"n":-12345678901234567890}';
    const value = parseJson(text) as Record<string, unknown>;
    expect(value.seed).toBe(9223372036854775807n);
    expect(toJson(value)).toBe(text);
  });

  it('parses ordinary bodies like JSON.parse, long digit strings included', () => {
    const text = '{"a":0.30000000000000004,"b":"12345678901234567890","c":[1,2.5e3,true,null]}';
    expect(parseJson(text)).toEqual(JSON.parse(text));
    expect(toJson(parseJson(text))).toBe(JSON.stringify(JSON.parse(text)));
  });

  it('writes BigInt anywhere as its digits, and leaves strings that look like numbers or marks alone', () => {
    const value = { a: [9007199254740993n, { b: -18446744073709551615n }], s: '\u0000int-0000000000000000:12345678901234567890', t: '9223372036854775807' };
    const text = toJson(value);
    expect(text).toBe('{"a":[9007199254740993,{"b":-18446744073709551615}],"s":"\\u0000int-0000000000000000:12345678901234567890","t":"9223372036854775807"}');
    expect(parseJson(text)).toEqual(value);
  });

  it('parses with the parser it is given (the body parser refuses __proto__)', () => {
    const refuse = (text: string) => {
      if (text.includes('__proto__')) throw new SyntaxError('forbidden');
      return JSON.parse(text) as unknown;
    };
    expect(() => parseJson('{"__proto__":{},"n":12345678901234567890}', refuse)).toThrow(SyntaxError);
    expect(parseJson('{"n":12345678901234567890}', refuse)).toEqual({ n: 12345678901234567890n });
  });

  it('throws on malformed text with a long number in it', () => {
    expect(() => parseJson('{"seed":12345678901234567890')).toThrow();
  });
});
