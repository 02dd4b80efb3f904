import { chatCompletionBody } from '../../../app/schemas/requests';
import Fastify, { type FastifyInstance } from 'fastify';
import { ANTHROPIC_JSON_LIMITS, checkJsonShape, JSON_LIMITS, jsonBody, RefusedBody } from '../../../app/plugins/json-body';
import { unsafeIntegers } from '../../../app/lib/json';

const MB = 1_048_576;
/** `count` copies of `item`, comma-separated, in a chat body's messages. */
const messages = (count: number, item = '{}') => `{"model":"m","messages":[${Array(count).fill(item).join(',')}]}`;

/**
 * The least CPU time (ms) of a few runs: the machine is shared, and what is asserted is the work a
 * request costs the event loop, not how long the neighbours keep this process off the CPU.
 */
function fastest(fn: () => unknown, runs = 5): number {
  let best = Infinity;
  for (let i = 0; i < runs; i++) {
    const started = process.cpuUsage();
    fn();
    const used = process.cpuUsage(started);
    best = Math.min(best, (used.user + used.system) / 1000);
  }
  return best;
}

describe('checkJsonShape: structural caps before parsing', () => {
  it('passes real requests, big ones included', () => {
    const msg = JSON.stringify({ role: 'user', content: [{ type: 'text', text: 'hi, "[{not structure}]"' }] });
    expect(checkJsonShape(messages(2048, msg), JSON_LIMITS)).toBeUndefined();
    const tools = JSON.stringify({ model: 'm', messages: [], tools: Array(128).fill({ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }) });
    expect(checkJsonShape(tools, JSON_LIMITS)).toBeUndefined();
    const tokenIds = JSON.stringify({ model: 'e', input: Array.from({ length: 2048 }, () => Array(30).fill(1234)) });
    expect(checkJsonShape(tokenIds, JSON_LIMITS)).toBeUndefined();
    expect(checkJsonShape('[]', JSON_LIMITS)).toBeUndefined();
  });

  it('counts items of the named top-level arrays against their caps, naming the field', () => {
    expect(checkJsonShape(messages(2049), JSON_LIMITS)).toEqual({ message: "'messages' has more than 2048 items.", param: 'messages' });
    const tools = `{"tools":[${Array(129).fill('1').join(',')}]}`;
    expect(checkJsonShape(tools, JSON_LIMITS)).toMatchObject({ param: 'tools' });
    // Anthropic's surface keeps its own cap on messages.
    expect(checkJsonShape(messages(2049), ANTHROPIC_JSON_LIMITS)).toBeUndefined();
  });

  it('only top-level fields get the named caps', () => {
    const nested = `{"requests":[{"messages":[${Array(3000).fill('1').join(',')}]}]}`;
    expect(checkJsonShape(nested, JSON_LIMITS)).toBeUndefined();
  });

  it('caps objects anywhere, items of any array, and depth', () => {
    const objects = `{"requests":[${Array(20_001).fill('{}').join(',')}]}`;
    expect(checkJsonShape(objects, JSON_LIMITS)).toEqual({ message: 'The JSON body holds more than 20000 objects.', param: null });
    const items = `{"input":[${Array(100_001).fill('1').join(',')}]}`;
    expect(checkJsonShape(items, JSON_LIMITS)).toMatchObject({ param: 'input', message: "'input' has more than 100000 items." });
    const deep = `{"a":${'['.repeat(200)}${']'.repeat(200)}}`;
    expect(checkJsonShape(deep, JSON_LIMITS)).toMatchObject({ message: expect.stringMatching(/nested more than 128/) });
    expect(checkJsonShape(deep, { ...JSON_LIMITS, depth: 300 })).toBeUndefined();
  });

  it('is not fooled by brackets, commas and escaped quotes inside strings', () => {
    const tricky = `{"messages":[{"role":"user","content":"${'[{,\\"'.repeat(10_000)}"}]}`;
    expect(checkJsonShape(tricky, JSON_LIMITS)).toBeUndefined();
    expect(checkJsonShape(`{"messages":[${Array(3).fill('"a,b"').join(',')}]}`, { ...JSON_LIMITS, fields: { messages: 2 } })).toMatchObject({ param: 'messages' });
  });

  it('scans a hostile megabyte in a few milliseconds, and stops at the first cap', () => {
    const bodies = [
      messages(Math.floor(MB / 3)), // 346,000 empty messages
      `{"input":[${Array(MB / 2).fill('1').join(',')}]}`,
      `{"a":"${'x'.repeat(MB)}"}`,
      `{"a":${'['.repeat(MB / 2)}`,
    ];
    // Bounds are guards against quadratic work (seconds), with room for a busy shared machine.
    for (const body of bodies) expect(fastest(() => checkJsonShape(body, JSON_LIMITS))).toBeLessThan(60);
  });

  it('keeps the worst body within the caps well under 50 ms to parse and validate', () => {
    // 2,048 messages of ~480 bytes: a megabyte, as much structure as the caps let a chat body carry.
    const msg = JSON.stringify({ role: 'user', content: [{ type: 'text', text: 'x'.repeat(400) }], name: 'n' });
    const body = messages(2048, msg);
    expect(body.length).toBeGreaterThan(MB * 0.9);
    expect(checkJsonShape(body, JSON_LIMITS)).toBeUndefined();
    expect(
      fastest(() => {
        checkJsonShape(body, JSON_LIMITS);
        chatCompletionBody.parse(JSON.parse(body));
      }),
    ).toBeLessThan(150);
  });
});

describe('checkJsonShape: what it quotes back', () => {
  it('names a top-level field only when it is a plain identifier', () => {
    const weird = `{"${'k'.repeat(100)} x":[${Array(100_001).fill('1').join(',')}]}`;
    expect(checkJsonShape(weird, JSON_LIMITS)).toEqual({ message: 'An array in the JSON body has more than 100000 items.', param: null });
  });
});

describe('jsonBody: refusing or deferring a body over the caps', () => {
  let app: FastifyInstance;
  let base: string;
  const seen: unknown[] = [];
  beforeAll(async () => {
    app = Fastify();
    jsonBody(app);
    app.post('/strict', async () => ({ ok: true }));
    app.post('/counted', { config: { deferBodyRefusal: true } }, async (request) => {
      seen.push(request.body);
      if (request.body instanceof RefusedBody) throw request.body.error; // after counting it
      return { ok: true };
    });
    base = await app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(() => app.close());

  const post = (path: string, body: string) =>
    fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

  it('refuses before the handler on ordinary routes', async () => {
    const res = await post('/strict', messages(3000));
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).code).toBe('request_too_complex');
  });

  it('hands a RefusedBody to routes that count refusals, unparsed', async () => {
    const res = await post('/counted', messages(3000));
    expect(res.status).toBe(400);
    expect(seen.at(-1)).toBeInstanceOf(RefusedBody);
    expect((seen.at(-1) as RefusedBody).error).toMatchObject({ param: 'messages', code: 'request_too_complex' });
    expect((await post('/counted', messages(2))).status).toBe(200);
    expect(seen.at(-1)).toEqual({ model: 'm', messages: [{}, {}] });
  });
});

describe('jsonBody: integers beyond 2^53', () => {
  let app: FastifyInstance;
  let base: string;
  let seen: unknown;
  beforeAll(async () => {
    app = Fastify();
    jsonBody(app);
    app.post('/echo', async (request) => {
      seen = request.body;
      return { ok: true };
    });
    base = await app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(() => app.close());

  const post = (body: string | Buffer) => fetch(`${base}/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

  it('come back as BigInt, digit for digit; everything else as JSON.parse reads it', async () => {
    const text =
      '{"seed":9223372036854775807,"neg":-12345678901234567890,"safe":1234567890123456,"float":1.2345678901234567e3,' +
      '"s":"9223372036854775807 in a string","nested":[{"n":18446744073709551615}],"é":"ü"}';
    expect((await post(text)).status).toBe(200);
    expect(seen).toEqual({
      seed: 9223372036854775807n,
      neg: -12345678901234567890n,
      safe: 1234567890123456,
      float: 1234.5678901234567,
      s: '9223372036854775807 in a string',
      nested: [{ n: 18446744073709551615n }],
      é: 'ü',
    });
  });

  it('a string that imitates the mark stays a string', async () => {
    expect((await post('{"a":"\\u0000int-0000000000000000:12345678901234567890","b":12345678901234567890}')).status).toBe(200);
    expect(seen).toEqual({ a: '\u0000int-0000000000000000:12345678901234567890', b: 12345678901234567890n });
  });

  it('still refuses __proto__', async () => {
    expect((await post('{"__proto__":{"x":1},"b":12345678901234567890}')).status).toBe(400);
  });

  it('cost a megabyte a few ms, not a lossless parse of ~200 ms', () => {
    const big = `{"seed":12345678901234567890,"messages":[${Array(2048).fill(JSON.stringify({ role: 'user', content: 'x'.repeat(480) })).join(',')}]}`;
    expect(fastest(() => unsafeIntegers(big))).toBeLessThan(60);
  });
});
