import type { CachedAnswer } from './types';

/** One JSON string per entry; byte length is what the size cap and the memory bound count. */
export function encodeAnswer(value: CachedAnswer): string {
  return JSON.stringify(value);
}

/** Anything that is not a well-formed answer (an older format, a foreign key) reads as a miss. */
export function decodeAnswer(raw: string): CachedAnswer | null {
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null) return null;
  const o = v as Record<string, unknown>;
  if (o.kind === 'json' && typeof o.body === 'string') return { kind: 'json', body: o.body };
  if (o.kind === 'stream' && Array.isArray(o.events) && o.events.every((e) => typeof e === 'string')) {
    return { kind: 'stream', events: o.events as string[] };
  }
  return null;
}
