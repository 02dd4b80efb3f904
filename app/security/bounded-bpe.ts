/**
 * BPE tokenizers merge within one pre-token (a word, a run of punctuation or of spaces), and their
 * cost grows with the square of its length: one 100,000-character "word" costs gpt-tokenizer ~20 s
 * of blocked event loop. Runs longer than MAX_RUN are counted in MAX_RUN-character pieces instead,
 * which keeps the cost linear in the text; ordinary text (no such runs) is counted exactly as before,
 * and a split run costs at most one extra token per piece.
 */
export const MAX_RUN = 64;
/** Longer than MAX_RUN: URLs and identifiers stay whole (and exact); only hostile runs are cut. */
const LONG_RUN = /\S{65,}|\s{65,}/;
const LONG_RUNS = /\S{65,}|\s{65,}/g;

export function countTokensBounded(count: (text: string) => number, text: string): number {
  if (!LONG_RUN.test(text)) return count(text);
  let total = 0;
  let last = 0;
  for (const m of text.matchAll(LONG_RUNS)) {
    const at = m.index;
    if (at > last) total += count(text.slice(last, at));
    const run = m[0];
    for (let i = 0; i < run.length; i += MAX_RUN) total += count(run.slice(i, i + MAX_RUN));
    last = at + run.length;
  }
  if (last < text.length) total += count(text.slice(last));
  return total;
}
