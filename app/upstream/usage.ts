import type { ChunkUsage } from './sse';

const USAGE_KEY = '"usage"';

function isSpace(c: number): boolean {
  return c === 32 || c === 10 || c === 13 || c === 9;
}

/** Index of the `}` closing the object that opens at `start`, skipping strings; -1 if it never closes. */
function objectEnd(text: string, start: number): number {
  let depth = 0;
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34 /* " */) {
      for (i++; i < text.length && text.charCodeAt(i) !== 34; i++) if (text.charCodeAt(i) === 92 /* \ */) i++;
    } else if (c === 123 /* { */) depth++;
    else if (c === 125 /* } */ && --depth === 0) return i;
  }
  return -1;
}

/**
 * The `usage` object of a chat completion's JSON text, found from the end (where OpenAI puts it) and
 * parsed on its own instead of parsing the whole answer. A key is only taken where a key can stand
 * (after `{` or `,`): inside a string every quote is escaped, so message text cannot fake one. Falls
 * back to a full parse whenever the text does not look as expected.
 */
export function usageFromJson(text: string): ChunkUsage | undefined {
  for (let at = text.lastIndexOf(USAGE_KEY); at > 0; at = text.lastIndexOf(USAGE_KEY, at - 1)) {
    let p = at - 1;
    while (p >= 0 && isSpace(text.charCodeAt(p))) p--;
    const before = text.charCodeAt(p);
    if (before !== 123 && before !== 44) continue;
    let q = at + USAGE_KEY.length;
    while (q < text.length && isSpace(text.charCodeAt(q))) q++;
    if (text.charCodeAt(q) !== 58 /* : */) continue;
    q++;
    while (q < text.length && isSpace(text.charCodeAt(q))) q++;
    if (text.startsWith('null', q)) return undefined;
    if (text.charCodeAt(q) !== 123) break;
    const end = objectEnd(text, q);
    if (end < 0) break;
    try {
      const usage = JSON.parse(text.slice(q, end + 1)) as ChunkUsage;
      if (typeof usage.prompt_tokens === 'number' || typeof usage.completion_tokens === 'number') return usage;
    } catch {
      // not what it looked like: parse the whole answer below
    }
    break;
  }
  if (!text.includes(USAGE_KEY)) return undefined;
  try {
    return (JSON.parse(text) as { usage?: ChunkUsage | null }).usage ?? undefined;
  } catch {
    return undefined;
  }
}
