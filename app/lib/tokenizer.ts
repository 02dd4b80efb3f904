/**
 * Counts tokens with a maintained BPE tokenizer (gpt-tokenizer, o200k_base: the encoding of current
 * OpenAI models, and a fair approximation for others). Loading it takes ~0.4 s of CPU and ~15 MB of
 * heap, so the server loads it at boot (`loadTokenizer`), never in the middle of a request; it
 * counts only what providers did not report (a stream cut short) and the token-counting endpoints.
 *
 * Caller text is hostile input: BPE's cost grows with the square of a word's length, so long runs
 * are split (security/bounded-bpe.ts), and past EXACT_CHARS the rest is extrapolated from the
 * counted part's ratio — no request blocks the event loop for long, whatever it sends.
 */
import { countTokensBounded } from '../security/bounded-bpe';

type Counter = (text: string) => number;
let counter: Counter | undefined;

/** Characters counted exactly (~15 ms of CPU); the rest is extrapolated. */
export const EXACT_CHARS = 200_000;

export function loadTokenizer(): void {
  // A require, not an import(): the package exposes its CommonJS build only to `require`.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  counter ??= (require('gpt-tokenizer/cjs/encoding/o200k_base') as { countTokens: Counter }).countTokens;
}

export function countTokens(text: string): number {
  if (text === '') return 0;
  loadTokenizer();
  if (text.length <= EXACT_CHARS) return countTokensBounded(counter!, text);
  const head = countTokensBounded(counter!, text.slice(0, EXACT_CHARS));
  return Math.ceil((head / EXACT_CHARS) * text.length);
}
