/**
 * Key revocations, told to every replica at once. Each replica trusts its cached key lookups for a
 * while (and serves known keys from them through a database outage), so without a broadcast a
 * revoked key would keep working until the cache expires — or for the whole outage. A message on a
 * Redis channel reaches every subscribed replica within milliseconds, whatever Postgres is doing.
 * Without Redis (one embedded process) an in-process twin does the same for that process.
 */
import type Redis from 'ioredis';
import type { KeyStore } from './keys';

export interface Revocations {
  /** Tells every replica (this one first, synchronously) that key `keyId` is revoked. */
  publish(keyId: string): Promise<void>;
  /** Calls `listener` with every revoked key id from now on; returns the unsubscribe function. */
  subscribe(listener: (keyId: string) => void): () => void;
  close(): Promise<void>;
}

/** The default channel; tests use their own so parallel suites never hear each other. */
export const REVOCATIONS_CHANNEL = 'llm-api:key-revocations';

function listeners() {
  const set = new Set<(keyId: string) => void>();
  return {
    add(fn: (keyId: string) => void) {
      set.add(fn);
      return () => void set.delete(fn);
    },
    emit(keyId: string) {
      for (const fn of set) fn(keyId);
    },
  };
}

/** One process, no Redis: publishing is telling this process's own listeners. */
export function createMemoryRevocations(): Revocations {
  const local = listeners();
  return {
    async publish(keyId) {
      local.emit(keyId);
    },
    subscribe: local.add,
    async close() {},
  };
}

export interface RedisRevocationsOptions {
  /** Publishes (the shared client; it may refuse commands while disconnected). */
  redis: Redis;
  /**
   * A connection of its own for SUBSCRIBE (a subscribed connection can issue nothing else). It
   * must queue commands while disconnected and resubscribe on reconnect (ioredis's defaults).
   */
  subscriber: Redis;
  channel?: string;
  onError?: (err: unknown) => void;
}

/**
 * Redis pub/sub. Publishing applies locally first, so the replica that revoked never depends on
 * Redis for its own refusal; a lost message (Redis down at that moment) leaves the other replicas
 * to their cache TTL (KEY_CACHE_TTL_MS), as before the broadcast existed.
 */
export function createRedisRevocations(opts: RedisRevocationsOptions): Revocations {
  const channel = opts.channel ?? REVOCATIONS_CHANNEL;
  const local = listeners();
  const onMessage = (from: string, keyId: string) => {
    if (from === channel && keyId) local.emit(keyId);
  };
  opts.subscriber.on('message', onMessage);
  // Connection errors of the subscriber (it reconnects by itself); unhandled, ioredis prints them.
  opts.subscriber.on('error', (err: unknown) => opts.onError?.(err));
  opts.subscriber.subscribe(channel).catch((err: unknown) => opts.onError?.(err));
  return {
    async publish(keyId) {
      local.emit(keyId);
      try {
        await opts.redis.publish(channel, keyId);
      } catch (err) {
        opts.onError?.(err);
      }
    },
    subscribe: local.add,
    async close() {
      opts.subscriber.off('message', onMessage);
      // Not QUIT: with Redis unreachable it would wait in the offline queue forever.
      opts.subscriber.disconnect();
    },
  };
}

/**
 * The key store with revocations broadcast: a key revoked through it (the admin route) stops on
 * every replica at once. Only a revocation the database has recorded is broadcast.
 */
export function withRevocationBroadcast<T extends Pick<KeyStore, 'revoke'>>(keys: T, revocations: Revocations): T {
  return Object.assign(Object.create(keys) as T, {
    async revoke(id: string): Promise<boolean> {
      const done = await keys.revoke(id);
      if (done) await revocations.publish(id);
      return done;
    },
  });
}
