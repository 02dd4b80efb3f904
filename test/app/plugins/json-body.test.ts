import { chatCompletionBody } from '../../../app/schemas/requests';
import { ANTHROPIC_JSON_LIMITS, checkJsonShape, JSON_LIMITS, nestingExceeds } from '../../../app/plugins/json-body';

const MB = 1_048_576;
/** `count` copies of `item`, comma-separated, in a chat body's messages. */
const messages = (count: number, item = '{}') => `{"model":"m","messages":[${Array(count).fill(item).join(',')}]}`;

/**
 * The fastest of a few runs, in ms: the machine is shared, and what is asserted is the work a
 * request costs, not how busy the neighbours are.
 */
function fastest(fn: () => unknown, runs = 5): number {
  let best = Infinity;
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    fn();
    best = Math.min(best, performance.now() - started);
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
    expect(nestingExceeds(deep, 128)).toBe(true);
    expect(nestingExceeds(deep, 300)).toBe(false);
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
    for (const body of bodies) expect(fastest(() => checkJsonShape(body, JSON_LIMITS))).toBeLessThan(20);
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
    ).toBeLessThan(50);
  });
});

describe('checkJsonShape: what it quotes back', () => {
  it('names a top-level field only when it is a plain identifier', () => {
    const weird = `{"${'k'.repeat(100)} x":[${Array(100_001).fill('1').join(',')}]}`;
    expect(checkJsonShape(weird, JSON_LIMITS)).toEqual({ message: 'An array in the JSON body has more than 100000 items.', param: null });
  });
});
