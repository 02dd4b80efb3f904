import { countTokens, countTokensSoon } from '../../../app/lib/tokenizer';
import { estimateTokens } from '../../../app/lib/tokens';

describe('tokenizer', () => {
  it('is not loaded at import; a stream cut short before it loads is charged the byte estimate, and loads it for the next', async () => {
    const text = 'The quick brown fox jumps over the lazy dog. '.repeat(20);
    expect(countTokensSoon(text)).toBe(estimateTokens(text));
    await new Promise((r) => setImmediate(r));
    const exact = countTokensSoon(text);
    expect(exact).toBe(countTokens(text));
    expect(exact).toBeLessThan(estimateTokens(text)); // the estimate errs high, never low, for English
  });

  it('extrapolates past the exact window instead of counting megabytes', () => {
    const text = 'hello world, '.repeat(40_000); // 520,000 characters
    const n = countTokens(text);
    expect(n).toBeGreaterThan(100_000);
    expect(n).toBeLessThan(200_000);
  });
});
