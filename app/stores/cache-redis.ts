import type Redis from 'ioredis';
import { decodeAnswer, encodeAnswer } from './cache-codec';
import type { CachedAnswer, ResponseCache } from './types';

export interface RedisCacheOptions {
  /** Configured by the caller (offline queue off, short command timeout); this cache never quits it. */
  redis: Redis;
  /** Namespace for every key. @default 'llmapi:cache:' */
  prefix?: string;
  /** Answers larger than this (UTF-8 bytes of the stored JSON) are not stored. */
  maxEntryBytes: number;
}

/** Errors are thrown as they come: the caller treats a throw as a bypass (or wraps with cache-fail-safe). */
export function createRedisCache(opts: RedisCacheOptions): ResponseCache {
  const { redis, maxEntryBytes } = opts;
  const prefix = opts.prefix ?? 'llmapi:cache:';
  return {
    async get(key: string): Promise<CachedAnswer | null> {
      const raw = await redis.get(prefix + key);
      return raw === null ? null : decodeAnswer(raw);
    },

    async set(key: string, value: CachedAnswer, ttlSeconds: number): Promise<void> {
      if (!(ttlSeconds > 0)) return;
      const raw = encodeAnswer(value);
      if (Buffer.byteLength(raw) > maxEntryBytes) return;
      // PX keeps fractional TTLs meaningful; EX would round them to whole seconds.
      await redis.set(prefix + key, raw, 'PX', Math.ceil(ttlSeconds * 1000));
    },

    async ping(): Promise<void> {
      await redis.ping();
    },

    close: async () => undefined,
  };
}
