import { countTokens as rawCount } from 'gpt-tokenizer/cjs/encoding/o200k_base';
import { countTokens } from '../../../app/lib/tokenizer';
import { countTokensBounded, MAX_RUN } from '../../../app/security/bounded-bpe';

/** CPU ms of one call (the machine is shared: wall time says more about the neighbours). */
function cpuMs(fn: () => unknown): number {
  const started = process.cpuUsage();
  fn();
  const used = process.cpuUsage(started);
  return (used.user + used.system) / 1000;
}

describe('countTokensBounded', () => {
  beforeAll(() => countTokens('load the tokenizer'));

  it('counts ordinary text exactly as the tokenizer does, URLs and identifiers included', () => {
    const text = 'The quick brown fox visits https://example.com/some/longer/path?query=1&x=2 twice. '.repeat(200);
    expect(countTokensBounded(rawCount, text)).toBe(rawCount(text));
    // The gateway's counter is the bounded one.
    expect(countTokens(text)).toBe(rawCount(text));
  });

  it('splits only runs longer than MAX_RUN, at most one extra token per piece', () => {
    const run = 'x'.repeat(MAX_RUN * 10);
    const bounded = countTokensBounded(rawCount, `before ${run} after`);
    expect(bounded).toBeGreaterThan(0);
    expect(bounded).toBeLessThanOrEqual(rawCount(`before ${run} after`) + 10);
  });

  it('keeps a hostile run linear: 20,000 characters of one word in a few tens of ms, not seconds', () => {
    const word = 'a'.repeat(20_000);
    const bounded = cpuMs(() => countTokens(word));
    const raw = cpuMs(() => rawCount(word));
    expect(bounded).toBeLessThan(50);
    expect(raw).toBeGreaterThan(bounded * 10); // what it protects against: quadratic merges
  });
});
