/**
 * Prompt-size estimates for reserving limits before the provider answers. They only have to be
 * close and rarely low: the reservation is reconciled with the provider's real usage afterwards,
 * while a low estimate lets a burst overshoot a hard budget. So text counts one token per 3 UTF-8
 * bytes (English runs ~4 bytes a token; CJK ~3 bytes a character, often a token each).
 *
 * A real tokenizer (gpt-tokenizer, see tokenizer.ts) costs ~70 ns a character and ~70 MB of heap:
 * on every request that is more CPU than the rest of the gateway's work, so it is used only where
 * the provider reported nothing (a stream cut short) and for the token-counting endpoints.
 */

/** A data URL (an inline image, audio or file): billed by the provider in ways we cannot see. */
const INLINE_MEDIA_TOKENS = 1000;
const MAX_DEPTH = 32;

export function estimateTokens(text: string): number {
  return Math.ceil(Buffer.byteLength(text, 'utf8') / 3);
}

/**
 * Estimates every string inside a JSON value (messages, tool schemas, Responses input items): the
 * text a provider turns into prompt tokens, plus a token per field for the framing.
 */
export function estimateJsonTokens(value: unknown, depth = 0): number {
  if (typeof value === 'string') {
    return value.startsWith('data:') ? INLINE_MEDIA_TOKENS : estimateTokens(value);
  }
  if (value === null || typeof value !== 'object' || depth > MAX_DEPTH) return 0;
  let n = 0;
  if (Array.isArray(value)) {
    for (const item of value) n += estimateJsonTokens(item, depth + 1) + 1;
  } else {
    for (const key in value) n += estimateJsonTokens((value as Record<string, unknown>)[key], depth + 1) + 1;
  }
  return n;
}

export function estimateEmbeddingTokens(input: unknown): number {
  if (typeof input === 'string') return estimateTokens(input);
  if (Array.isArray(input)) {
    let n = 0;
    for (const item of input) {
      if (typeof item === 'string') n += estimateTokens(item);
      else if (typeof item === 'number') n += 1;
      else if (Array.isArray(item)) n += item.length;
    }
    return n;
  }
  return 0;
}

/** The text inside a JSON value (every string but inline media), for the token-counting endpoints. */
export function jsonText(value: unknown, depth = 0): string {
  if (typeof value === 'string') return value.startsWith('data:') ? '' : value;
  if (value === null || typeof value !== 'object' || depth > MAX_DEPTH) return '';
  const parts: string[] = [];
  for (const v of Array.isArray(value) ? value : Object.values(value)) {
    const t = jsonText(v, depth + 1);
    if (t) parts.push(t);
  }
  return parts.join('\n');
}
