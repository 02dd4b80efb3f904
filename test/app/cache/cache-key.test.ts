import { createHash } from 'node:crypto';
import { cacheKey, canonicalJson } from '../../../app/cache/cache-key';

const body = {
  model: 'gpt-4o-mini',
  temperature: 0,
  messages: [
    { role: 'system', content: 'be brief' },
    { role: 'user', content: 'hi' },
  ],
  response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { b: 1, a: 2 } } },
};

describe('cacheKey', () => {
  it('is a SHA-256 hex digest', () => {
    expect(cacheKey('k1', body)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('does not depend on the order of object keys, at any depth', () => {
    const reordered = {
      response_format: { json_schema: { schema: { a: 2, b: 1 }, name: 'x' }, type: 'json_schema' },
      messages: [
        { content: 'be brief', role: 'system' },
        { content: 'hi', role: 'user' },
      ],
      temperature: 0,
      model: 'gpt-4o-mini',
    };
    expect(cacheKey('k1', reordered)).toBe(cacheKey('k1', body));
  });

  it('differs between tenants', () => {
    expect(cacheKey('k2', body)).not.toBe(cacheKey('k1', body));
  });

  it('differs when anything that shapes the answer differs', () => {
    const base = cacheKey('k1', body);
    expect(cacheKey('k1', { ...body, temperature: 0.5 })).not.toBe(base);
    expect(cacheKey('k1', { ...body, model: 'gpt-4o' })).not.toBe(base);
    expect(cacheKey('k1', { ...body, max_tokens: 10 })).not.toBe(base);
    expect(cacheKey('k1', { ...body, messages: [...body.messages].reverse() })).not.toBe(base);
    expect(cacheKey('k1', { ...body, messages: [{ role: 'user', content: 'hi!' }] })).not.toBe(base);
  });

  it('ignores fields that only change framing, storage or attribution', () => {
    const base = cacheKey('k1', body);
    expect(cacheKey('k1', { ...body, stream: true, stream_options: { include_usage: true } })).toBe(base);
    expect(cacheKey('k1', { ...body, stream: false })).toBe(base);
    expect(cacheKey('k1', { ...body, user: 'u-1', metadata: { a: '1' }, store: true })).toBe(base);
    expect(cacheKey('k1', { ...body, seed: undefined })).toBe(base);
  });

  it('keeps its value across versions: the hash of canonicalJson(["v1", key id, fields])', () => {
    const { stream: _s, user: _u, ...rest } = { ...body, stream: true, user: 'u' };
    const expected = createHash('sha256').update(canonicalJson(['v1', 'k1', rest])).digest('hex');
    expect(cacheKey('k1', { ...body, stream: true, user: 'u' })).toBe(expected);
  });

  it('cannot be confused by moving text between tenant and body', () => {
    expect(cacheKey('a', { model: 'b' })).not.toBe(cacheKey('a","b', { model: '' }));
  });
});

describe('canonicalJson', () => {
  it('sorts keys and keeps arrays in order', () => {
    expect(canonicalJson({ b: [3, { d: 1, c: 2 }], a: 'x' })).toBe('{"a":"x","b":[3,{"c":2,"d":1}]}');
  });
});
