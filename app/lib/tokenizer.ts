/**
 * Counts tokens with a maintained BPE tokenizer (gpt-tokenizer, o200k_base: the encoding of current
 * OpenAI models, and a fair approximation for others). It counts only what providers did not report
 * (a stream cut short) and the token-counting endpoints, and loading it costs ~0.4 s of CPU and
 * ~50 MB of RSS (measured in `npm run bench`: a third of the gateway's footprint), so it is loaded
 * on first need, not at boot: the counting endpoints load it when first called; a stream cut short
 * before it is loaded is charged the byte estimate (app/lib/tokens.ts) and starts the load for the
 * next one, after the current turn of the event loop.
 *
 * Caller text is hostile input: BPE's cost grows with the square of a word's length, so long runs
 * are split (security/bounded-bpe.ts), and past EXACT_CHARS the rest is extrapolated from the
 * counted part's ratio — no request blocks the event loop for long, whatever it sends.
 */
import { countTokensBounded } from '../security/bounded-bpe';
import { estimateTokens } from './tokens';

type Counter = (text: string) => number;
let counter: Counter | undefined;

/** Characters counted exactly (~15 ms of CPU); the rest is extrapolated. */
export const EXACT_CHARS = 200_000;

export function loadTokenizer(): void {
  // A require, not an import(): the package exposes its CommonJS build only to `require`.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  counter ??= (require('gpt-tokenizer/cjs/encoding/o200k_base') as { countTokens: Counter }).countTokens;
}

/** Exact when the tokenizer is loaded; otherwise the byte estimate now, and the tokenizer soon. */
export function countTokensSoon(text: string): number {
  if (counter) return countTokens(text);
  setImmediate(loadTokenizer);
  return estimateTokens(text);
}

export function countTokens(text: string): number {
  if (text === '') return 0;
  loadTokenizer();
  if (text.length <= EXACT_CHARS) return countTokensBounded(counter!, text);
  const head = countTokensBounded(counter!, text.slice(0, EXACT_CHARS));
  return Math.ceil((head / EXACT_CHARS) * text.length);
}
