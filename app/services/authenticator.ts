import { AuthenticationError, ServiceUnavailableError } from '../errors';
import { hashKey, type KeyStore } from '../stores/keys';
import type { ApiKeyRecord } from '../stores/types';

export interface AuthenticatorOptions {
  keys: Pick<KeyStore, 'findByHash'>;
  /** A lookup is trusted this long; a revocation takes effect on every replica within it. */
  ttlMs: number;
  /** While the database is unreachable, a known key keeps working from a lookup up to this old. */
  staleMs?: number;
  maxEntries?: number;
  now?: () => number;
  onStoreError?: (err: unknown) => void;
}

export interface Authenticator {
  /** Resolves the caller's live key, or throws AuthenticationError (401) / ServiceUnavailableError (503). */
  authenticate(presented: string | undefined): Promise<ApiKeyRecord>;
}

interface Entry {
  record: ApiKeyRecord | null;
  at: number;
}

export function createAuthenticator(opts: AuthenticatorOptions): Authenticator {
  const now = opts.now ?? Date.now;
  const staleMs = opts.staleMs ?? 15 * 60_000;
  const maxEntries = opts.maxEntries ?? 10_000;
  const cache = new Map<string, Entry>();
  // Concurrent requests with the same key share one database lookup.
  const pending = new Map<string, Promise<ApiKeyRecord | null>>();

  function remember(hash: string, record: ApiKeyRecord | null) {
    if (cache.size >= maxEntries) cache.delete(cache.keys().next().value as string);
    cache.delete(hash);
    cache.set(hash, { record, at: now() });
  }

  async function lookup(hash: string): Promise<ApiKeyRecord | null> {
    let p = pending.get(hash);
    if (!p) {
      p = opts.keys.findByHash(hash).finally(() => pending.delete(hash));
      pending.set(hash, p);
    }
    return p;
  }

  return {
    async authenticate(presented) {
      if (!presented) {
        throw new AuthenticationError(
          'You didn\'t provide an API key. Send it as "Authorization: Bearer YOUR_KEY" or "X-API-Key: YOUR_KEY".',
        );
      }
      const hash = hashKey(presented);
      const hit = cache.get(hash);
      let record: ApiKeyRecord | null;
      if (hit && now() - hit.at < opts.ttlMs) {
        record = hit.record;
      } else {
        try {
          record = await lookup(hash);
          remember(hash, record);
        } catch (err) {
          opts.onStoreError?.(err);
          if (hit?.record && now() - hit.at < staleMs) record = hit.record;
          else throw new ServiceUnavailableError('The key store is temporarily unavailable. Please retry.');
        }
      }
      if (!record || record.revokedAt) throw new AuthenticationError();
      return record;
    },
  };
}
