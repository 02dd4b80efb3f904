/**
 * Counts tokens with a maintained BPE tokenizer (gpt-tokenizer, o200k_base: the encoding of current
 * OpenAI models, and a fair approximation for others). Loaded on first use — ~300 ms and ~70 MB —
 * because most processes never need it: providers report usage, and this counts only what they did
 * not (a stream cut short) and answers the token-counting endpoints.
 */
type Counter = (text: string) => number;
let counter: Counter | undefined;

export async function countTokens(text: string): Promise<number> {
  if (text === '') return 0;
  counter ??= (await import('gpt-tokenizer/cjs/encoding/o200k_base')).countTokens as Counter;
  return counter(text);
}
