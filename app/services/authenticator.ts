import { AuthenticationError, ServiceUnavailableError } from '../errors';
import { hashKey, type KeyStore } from '../stores/keys';
import type { ApiKeyRecord } from '../stores/types';

export interface AuthenticatorOptions {
  keys: Pick<KeyStore, 'findByHash'>;
  /** A lookup is trusted this long; without a broadcast, a revocation takes effect within it. */
  ttlMs: number;
  /** While the database is unreachable, a known key keeps working from a lookup up to this old. */
  staleMs?: number;
  /** Known keys remembered. @default 10000 */
  maxEntries?: number;
  /** Unknown keys remembered (their own cache: a flood of them never evicts a known key). @default 10000 */
  maxNegativeEntries?: number;
  /** Revoked key ids remembered from broadcasts. @default 100000 */
  maxRevoked?: number;
  /**
   * Database lookups in flight at once. A flood of unknown keys would otherwise take every pooled
   * connection (usage writes and admin queries share the pool); past it, a key seen before is
   * served from its last lookup and a key never seen gets 503. @default 8
   */
  maxConcurrentLookups?: number;
  now?: () => number;
  onStoreError?: (err: unknown) => void;
}

export interface Authenticator {
  /** Resolves the caller's live key, or throws AuthenticationError (401) / ServiceUnavailableError (503). */
  authenticate(presented: string | undefined): Promise<ApiKeyRecord>;
  /** True when `presented` is a live key this process already knows: no lookup needed to say so. */
  knows(presented: string | undefined): boolean;
  /** Refuses key `keyId` from now on, whatever the database says or whether it answers. */
  revoked(keyId: string): void;
}

/**
 * 503 for a key never seen while the lookup cap is reached. It counts as a failed attempt for the
 * per-address throttle: a parallel flood of unknown keys is throttled as fast as a sequential one.
 */
export class KeyLookupBusyError extends ServiceUnavailableError {
  constructor() {
    super('Too many key lookups are in progress. Please retry.', 'key_lookup_busy');
  }
}

interface Entry {
  record: ApiKeyRecord;
  at: number;
}

/** A Map used as a bounded cache: insertion order is recency order. */
function setBounded<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  map.delete(key);
  if (map.size >= max) map.delete(map.keys().next().value as K);
  map.set(key, value);
}

export function createAuthenticator(opts: AuthenticatorOptions): Authenticator {
  const now = opts.now ?? Date.now;
  const staleMs = opts.staleMs ?? 15 * 60_000;
  const maxEntries = opts.maxEntries ?? 10_000;
  const maxNegative = opts.maxNegativeEntries ?? 10_000;
  const maxRevoked = opts.maxRevoked ?? 100_000;
  const maxLookups = opts.maxConcurrentLookups ?? 8;
  const known = new Map<string, Entry>();
  const unknown = new Map<string, number>();
  // Ids revoked by broadcast. A lookup already in flight (or a replica reading a lagging database)
  // may still return the key as live; this set overrides it.
  const revokedIds = new Map<string, number>();
  // Concurrent requests with the same key share one database lookup.
  const pending = new Map<string, Promise<ApiKeyRecord | null>>();

  function lookup(hash: string): Promise<ApiKeyRecord | null> {
    let p = pending.get(hash);
    if (!p) {
      p = opts.keys.findByHash(hash).finally(() => pending.delete(hash));
      pending.set(hash, p);
    }
    return p;
  }

  function live(record: ApiKeyRecord | null | undefined): record is ApiKeyRecord {
    return !!record && !record.revokedAt && !revokedIds.has(record.id);
  }

  return {
    async authenticate(presented) {
      if (!presented) {
        throw new AuthenticationError(
          'You didn\'t provide an API key. Send it as "Authorization: Bearer YOUR_KEY" or "X-API-Key: YOUR_KEY".',
        );
      }
      const hash = hashKey(presented);
      const t = now();
      const hit = known.get(hash);
      if (hit && t - hit.at < opts.ttlMs) {
        if (!live(hit.record)) throw new AuthenticationError();
        return hit.record;
      }
      const miss = unknown.get(hash);
      if (miss !== undefined && t - miss < opts.ttlMs) throw new AuthenticationError();

      let record: ApiKeyRecord | null;
      if (pending.size >= maxLookups && !pending.has(hash)) {
        if (hit && t - hit.at < staleMs) {
          if (!live(hit.record)) throw new AuthenticationError();
          return hit.record;
        }
        throw new KeyLookupBusyError();
      }
      try {
        record = await lookup(hash);
      } catch (err) {
        opts.onStoreError?.(err);
        if (hit && t - hit.at < staleMs) {
          if (!live(hit.record)) throw new AuthenticationError();
          return hit.record;
        }
        throw new ServiceUnavailableError('The key store is temporarily unavailable. Please retry.');
      }
      if (record) {
        unknown.delete(hash);
        setBounded(known, hash, { record, at: now() }, maxEntries);
      } else {
        known.delete(hash);
        setBounded(unknown, hash, now(), maxNegative);
      }
      if (!live(record)) throw new AuthenticationError();
      return record;
    },

    knows(presented) {
      if (!presented) return false;
      const hit = known.get(hashKey(presented));
      return !!hit && now() - hit.at < staleMs && live(hit.record);
    },

    revoked(keyId) {
      setBounded(revokedIds, keyId, now(), maxRevoked);
    },
  };
}
