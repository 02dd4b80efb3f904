/**
 * Counts tokens with a maintained BPE tokenizer (gpt-tokenizer, o200k_base: the encoding of current
 * OpenAI models, and a fair approximation for others). Loading it takes ~0.4 s of CPU and ~15 MB of
 * heap, so the server loads it at boot (`loadTokenizer`), never in the middle of a request; it
 * counts only what providers did not report (a stream cut short) and the token-counting endpoints.
 */
type Counter = (text: string) => number;
let counter: Counter | undefined;

export function loadTokenizer(): void {
  // A require, not an import(): the package exposes its CommonJS build only to `require`.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  counter ??= (require('gpt-tokenizer/cjs/encoding/o200k_base') as { countTokens: Counter }).countTokens;
}

export function countTokens(text: string): number {
  if (text === '') return 0;
  loadTokenizer();
  return counter!(text);
}
