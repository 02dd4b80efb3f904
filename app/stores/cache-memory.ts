import { decodeAnswer, encodeAnswer } from './cache-codec';
import type { CachedAnswer, ResponseCache } from './types';

export interface MemoryCacheOptions {
  /** Answers larger than this (UTF-8 bytes of their JSON) are not stored. */
  maxEntryBytes: number;
  /** @default 1000 */
  maxEntries?: number;
  /** Bound on all entries together, so many large answers cannot exhaust the heap. @default 64 MiB */
  maxTotalBytes?: number;
  /** @default Date.now */
  now?: () => number;
}

interface Entry {
  raw: string;
  bytes: number;
  expiresAt: number;
}

/**
 * In-process cache for embedded mode: a Map kept in recency order (a hit moves its entry to the end),
 * evicting from the front. Entries are stored encoded, like in Redis, so a caller that mutates an
 * answer it got cannot change what the next caller gets.
 */
export function createMemoryCache(opts: MemoryCacheOptions): ResponseCache {
  const maxEntries = opts.maxEntries ?? 1000;
  const maxTotalBytes = opts.maxTotalBytes ?? 64 * 1024 * 1024;
  const now = opts.now ?? Date.now;
  const entries = new Map<string, Entry>();
  let totalBytes = 0;

  function remove(key: string, e: Entry): void {
    entries.delete(key);
    totalBytes -= e.bytes;
  }

  return {
    async get(key: string): Promise<CachedAnswer | null> {
      const e = entries.get(key);
      if (!e) return null;
      remove(key, e);
      if (e.expiresAt <= now()) return null;
      entries.set(key, e);
      totalBytes += e.bytes;
      return decodeAnswer(e.raw);
    },

    async set(key: string, value: CachedAnswer, ttlSeconds: number): Promise<void> {
      if (!(ttlSeconds > 0)) return;
      const raw = encodeAnswer(value);
      const bytes = Buffer.byteLength(raw);
      if (bytes > opts.maxEntryBytes || bytes > maxTotalBytes) return;
      const old = entries.get(key);
      if (old) remove(key, old);
      entries.set(key, { raw, bytes, expiresAt: now() + ttlSeconds * 1000 });
      totalBytes += bytes;
      for (const [k, e] of entries) {
        if (entries.size <= maxEntries && totalBytes <= maxTotalBytes) break;
        remove(k, e);
      }
    },

    ping: async () => undefined,

    close: async () => {
      entries.clear();
      totalBytes = 0;
    },
  };
}
