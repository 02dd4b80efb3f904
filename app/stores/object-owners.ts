import type { Db } from './types';

export interface ObjectOwner {
  keyId: string;
  /** The provider that holds the object: later calls on it go there. */
  provider: string;
}

export interface ObjectOwners {
  /** Remembers who created `id`; off the request path (failures go to onError). */
  remember(id: string, owner: ObjectOwner): void;
  /** The owner of `id`, or null when no key of ours created it. */
  owner(id: string): Promise<ObjectOwner | null>;
  forget(id: string): Promise<void>;
  /** Deletes mappings older than `days` (kept as long as usage rows). */
  deleteOlderThan(days: number): Promise<number>;
}

export interface ObjectOwnersOptions {
  db: Pick<Db, 'query'>;
  onError: (err: unknown) => void;
  /** Recent ids kept in process, so this replica answers its own ids at once. @default 10000 */
  maxCached?: number;
}

/**
 * Object ids → the key that created them, in Postgres. A write is not awaited by the request that
 * made the object; this replica knows the id at once (in-process map), other replicas once the
 * INSERT lands — milliseconds, well before a client's follow-up call usually arrives.
 */
export function createObjectOwners(opts: ObjectOwnersOptions): ObjectOwners {
  const max = opts.maxCached ?? 10_000;
  const recent = new Map<string, ObjectOwner>();
  const keep = (id: string, owner: ObjectOwner) => {
    if (recent.size >= max) recent.delete(recent.keys().next().value as string);
    recent.set(id, owner);
  };
  return {
    remember(id, owner) {
      keep(id, owner);
      opts.db
        .query('INSERT INTO object_owners (id, key_id, provider) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING', [
          id,
          owner.keyId,
          owner.provider,
        ])
        .catch(opts.onError);
    },
    async owner(id) {
      const hit = recent.get(id);
      if (hit) return hit;
      const { rows } = await opts.db.query<{ key_id: string; provider: string }>(
        'SELECT key_id, provider FROM object_owners WHERE id = $1',
        [id],
      );
      if (!rows[0]) return null;
      const owner = { keyId: rows[0].key_id, provider: rows[0].provider };
      keep(id, owner);
      return owner;
    },
    async forget(id) {
      recent.delete(id);
      await opts.db.query('DELETE FROM object_owners WHERE id = $1', [id]);
    },
    async deleteOlderThan(days) {
      const { rows } = await opts.db.query<{ n: string }>(
        `WITH gone AS (DELETE FROM object_owners WHERE created_at < now() - make_interval(days => $1) RETURNING 1)
         SELECT count(*)::text AS n FROM gone`,
        [days],
      );
      return Number(rows[0]?.n ?? 0);
    },
  };
}
