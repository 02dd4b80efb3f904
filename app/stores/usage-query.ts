import type { Db, UsageSummary } from './types';

export interface UsageFilter {
  keyId?: string;
  /** Inclusive. */
  since?: Date;
  /** Exclusive, so consecutive ranges never count a row twice. */
  until?: Date;
}

export interface UsageQuery {
  summary(filter?: UsageFilter): Promise<UsageSummary>;
  /** Prompt + completion tokens the key used since `monthStart`: seeds the limiter's budget counter. */
  monthTokens(keyId: string, monthStart: Date): Promise<number>;
  /** Deletes rows older than `days` days; returns how many. */
  deleteOlderThan(days: number): Promise<number>;
}

export interface UsageQueryOptions {
  db: Pick<Db, 'query'>;
  /** Rows per DELETE statement, so retention never holds a long lock or hits the statement timeout. @default 10000 */
  deleteBatch?: number;
  /** @default Date.now */
  now?: () => number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface ModelRow {
  model: string;
  requests: string;
  prompt_tokens: string;
  completion_tokens: string;
  cached_requests: string;
}

/** Reads over usage_records. Sums come back from Postgres as bigint strings; they leave as numbers. */
export function createUsageQuery(opts: UsageQueryOptions): UsageQuery {
  const { db } = opts;
  const deleteBatch = opts.deleteBatch ?? 10_000;
  const now = opts.now ?? Date.now;

  return {
    async summary(filter: UsageFilter = {}): Promise<UsageSummary> {
      const out: UsageSummary = {
        requests: 0,
        prompt_tokens: 0,
        completion_tokens: 0,
        total_tokens: 0,
        cached_requests: 0,
        by_model: {},
      };
      // A key id that is not a uuid names no key; answering zero beats a cast error.
      if (filter.keyId !== undefined && !UUID.test(filter.keyId)) return out;
      const where: string[] = [];
      const params: unknown[] = [];
      if (filter.keyId !== undefined) where.push(`key_id = $${params.push(filter.keyId)}`);
      if (filter.since) where.push(`created_at >= $${params.push(filter.since.toISOString())}`);
      if (filter.until) where.push(`created_at < $${params.push(filter.until.toISOString())}`);
      const { rows } = await db.query<ModelRow>(
        `SELECT model,
                count(*)::text AS requests,
                coalesce(sum(prompt_tokens), 0)::text AS prompt_tokens,
                coalesce(sum(completion_tokens), 0)::text AS completion_tokens,
                count(*) FILTER (WHERE cached)::text AS cached_requests
           FROM usage_records
          ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
          GROUP BY model
          ORDER BY model`,
        params,
      );
      for (const r of rows) {
        const m = {
          requests: Number(r.requests),
          prompt_tokens: Number(r.prompt_tokens),
          completion_tokens: Number(r.completion_tokens),
          total_tokens: Number(r.prompt_tokens) + Number(r.completion_tokens),
        };
        out.by_model[r.model] = m;
        out.requests += m.requests;
        out.prompt_tokens += m.prompt_tokens;
        out.completion_tokens += m.completion_tokens;
        out.total_tokens += m.total_tokens;
        out.cached_requests += Number(r.cached_requests);
      }
      return out;
    },

    async monthTokens(keyId: string, monthStart: Date): Promise<number> {
      if (!UUID.test(keyId)) return 0;
      // Cache hits cost nothing upstream, so they do not count against the budget.
      const { rows } = await db.query<{ tokens: string }>(
        `SELECT coalesce(sum(prompt_tokens + completion_tokens), 0)::text AS tokens
           FROM usage_records WHERE key_id = $1 AND created_at >= $2 AND NOT cached`,
        [keyId, monthStart.toISOString()],
      );
      return Number(rows[0]?.tokens ?? 0);
    },

    async deleteOlderThan(days: number): Promise<number> {
      if (!(days >= 0)) throw new Error(`retention days must be >= 0, got ${days}`);
      const cutoff = new Date(now() - days * 86_400_000).toISOString();
      let total = 0;
      for (;;) {
        const { rows } = await db.query<{ n: string }>(
          `WITH gone AS (
             DELETE FROM usage_records WHERE id IN (
               SELECT id FROM usage_records WHERE created_at < $1 ORDER BY created_at LIMIT $2)
             RETURNING 1)
           SELECT count(*)::text AS n FROM gone`,
          [cutoff, deleteBatch],
        );
        const n = Number(rows[0]?.n ?? 0);
        total += n;
        if (n < deleteBatch) return total;
      }
    },
  };
}
