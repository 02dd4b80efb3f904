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

  it('throws on malformed text with a long number in it', () => {
    expect(() => parseJson('{"seed":12345678901234567890')).toThrow();
  });
});
