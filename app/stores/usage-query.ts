import type { Db, UsageSummary, UsageTotals } from './types';

/**
 * What to report over. Reports read the daily rollup (usage_daily), so `since` and `until` select
 * whole UTC days: the days from `since`'s day up to, but not including, `until` (a day `until` only
 * cuts into is included). Date-only values (`2031-03-01`) are exact.
 */
export interface UsageFilter {
  keyId?: string;
  teamId?: string;
  model?: string;
  since?: Date;
  until?: Date;
}

export type UsageGroupBy = 'key' | 'team' | 'model' | 'day';

/** One group's sums; `group` is the key id, team id (null: keys without a team), model, or `YYYY-MM-DD`. */
export interface UsageGroup extends UsageTotals {
  group: string | null;
  /** The exact sum of cost_usd as Postgres returns it (for CSV), e.g. `0.0123456789`. */
  cost_usd_text: string;
}

export interface UsageQuery {
  summary(filter?: UsageFilter): Promise<UsageSummary>;
  grouped(filter: UsageFilter, by: UsageGroupBy): Promise<UsageGroup[]>;
  /** Prompt + completion tokens the key used since `monthStart`: seeds the limiter's token budget. */
  monthTokens(keyId: string, monthStart: Date): Promise<number>;
  /** USD the key or team spent from `since`'s UTC day on: seeds dollar budgets, answers GET /v1/key. */
  spendSince(scope: 'key' | 'team', id: string, since: Date): Promise<number>;
  /** Deletes raw rows older than `days` days; returns how many. */
  deleteOlderThan(days: number): Promise<number>;
  /** Deletes rollup rows of days more than `days` days ago; returns how many. */
  deleteRollupsOlderThan(days: number): Promise<number>;
}

export interface UsageQueryOptions {
  db: Pick<Db, 'query'>;
  /** Rows per DELETE statement, so retention never holds a long lock or hits the statement timeout. @default 10000 */
  deleteBatch?: number;
  /** @default Date.now */
  now?: () => number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DAY_MS = 86_400_000;

const GROUP_EXPR: Record<UsageGroupBy, string> = {
  key: 'key_id::text',
  team: 'team_id::text',
  model: 'model',
  day: "to_char(day, 'YYYY-MM-DD')",
};

/** Sums come back as numeric/bigint text; they leave as numbers (cost_usd also as exact text). */
const SUMS = `sum(requests)::text AS requests,
  sum(cached_requests)::text AS cached_requests,
  sum(unpriced_requests)::text AS unpriced_requests,
  sum(prompt_tokens)::text AS prompt_tokens,
  sum(completion_tokens)::text AS completion_tokens,
  sum(cached_input_tokens)::text AS cached_input_tokens,
  sum(cache_write_tokens)::text AS cache_write_tokens,
  sum(reasoning_tokens)::text AS reasoning_tokens,
  trim_scale(sum(cost_usd))::text AS cost_usd`;

interface SumRow {
  g: string | null;
  requests: string;
  cached_requests: string;
  unpriced_requests: string;
  prompt_tokens: string;
  completion_tokens: string;
  cached_input_tokens: string;
  cache_write_tokens: string;
  reasoning_tokens: string;
  cost_usd: string;
}

export function emptyTotals(): UsageTotals {
  return {
    requests: 0,
    prompt_tokens: 0,
    completion_tokens: 0,
    total_tokens: 0,
    cached_requests: 0,
    cached_input_tokens: 0,
    cache_write_tokens: 0,
    reasoning_tokens: 0,
    cost_usd: 0,
    unpriced_requests: 0,
  };
}

function totals(r: SumRow): UsageTotals {
  const prompt = Number(r.prompt_tokens);
  const completion = Number(r.completion_tokens);
  return {
    requests: Number(r.requests),
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    cached_requests: Number(r.cached_requests),
    cached_input_tokens: Number(r.cached_input_tokens),
    cache_write_tokens: Number(r.cache_write_tokens),
    reasoning_tokens: Number(r.reasoning_tokens),
    cost_usd: Number(r.cost_usd),
    unpriced_requests: Number(r.unpriced_requests),
  };
}

/** `a += b`, field by field; cost rounded back to the column's 10 decimals (float sums drift). */
function add(a: UsageTotals, b: UsageTotals): void {
  for (const k of Object.keys(b) as Array<keyof UsageTotals>) a[k] += b[k];
  a.cost_usd = Math.round(a.cost_usd * 1e10) / 1e10;
}

function utcDay(d: Date): string {
  return d.toISOString().slice(0, 10);
}

/** The first day not included: `until`'s day, or the next one when `until` falls inside its day. */
function untilDay(d: Date): string {
  return d.getTime() % DAY_MS === 0 ? utcDay(d) : utcDay(new Date(Math.floor(d.getTime() / DAY_MS) * DAY_MS + DAY_MS));
}

/** WHERE clause over usage_daily; null when a filter names an id that cannot exist (the answer is empty). */
function where(f: UsageFilter, params: unknown[]): string | null {
  const w: string[] = [];
  if (f.keyId !== undefined) {
    if (!UUID.test(f.keyId)) return null;
    w.push(`key_id = $${params.push(f.keyId)}`);
  }
  if (f.teamId !== undefined) {
    if (!UUID.test(f.teamId)) return null;
    w.push(`team_id = $${params.push(f.teamId)}`);
  }
  if (f.model !== undefined) w.push(`model = $${params.push(f.model)}`);
  if (f.since) w.push(`day >= $${params.push(utcDay(f.since))}::date`);
  if (f.until) w.push(`day < $${params.push(untilDay(f.until))}::date`);
  return w.length ? `WHERE ${w.join(' AND ')}` : '';
}

/** Reads over the daily rollup (reports, spend) and the raw rows (token budget, retention). */
export function createUsageQuery(opts: UsageQueryOptions): UsageQuery {
  const { db } = opts;
  const deleteBatch = opts.deleteBatch ?? 10_000;
  const now = opts.now ?? Date.now;

  async function grouped(filter: UsageFilter, by: UsageGroupBy): Promise<UsageGroup[]> {
    const params: unknown[] = [];
    const w = where(filter, params);
    if (w === null) return [];
    const { rows } = await db.query<SumRow>(
      `SELECT ${GROUP_EXPR[by]} AS g, ${SUMS} FROM usage_daily ${w} GROUP BY 1 ORDER BY 1 NULLS FIRST`,
      params,
    );
    return rows.map((r) => ({ group: r.g, ...totals(r), cost_usd_text: r.cost_usd }));
  }

  return {
    grouped,

    async summary(filter: UsageFilter = {}): Promise<UsageSummary> {
      const out: UsageSummary = { ...emptyTotals(), by_model: {} };
      for (const g of await grouped(filter, 'model')) {
        const { group, cost_usd_text: _exact, ...t } = g;
        out.by_model[group ?? ''] = t;
        add(out, t);
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

    async spendSince(scope, id, since) {
      if (!UUID.test(id)) return 0;
      const { rows } = await db.query<{ usd: string }>(
        `SELECT coalesce(sum(cost_usd), 0)::text AS usd FROM usage_daily
          WHERE ${scope === 'team' ? 'team_id' : 'key_id'} = $1 AND day >= $2::date`,
        [id, utcDay(since)],
      );
      return Number(rows[0]?.usd ?? 0);
    },

    async deleteOlderThan(days: number): Promise<number> {
      if (!(days >= 0)) throw new Error(`retention days must be >= 0, got ${days}`);
      const cutoff = new Date(now() - days * DAY_MS).toISOString();
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

    async deleteRollupsOlderThan(days: number): Promise<number> {
      if (!(days >= 0)) throw new Error(`rollup retention days must be >= 0, got ${days}`);
      // A day's rollup rows are few (keys × models): one statement per day keeps each delete small.
      const cutoff = utcDay(new Date(now() - days * DAY_MS));
      let total = 0;
      for (;;) {
        const { rows } = await db.query<{ n: string }>(
          `WITH gone AS (
             DELETE FROM usage_daily WHERE day = (SELECT min(day) FROM usage_daily WHERE day < $1::date)
             RETURNING 1)
           SELECT count(*)::text AS n FROM gone`,
          [cutoff],
        );
        const n = Number(rows[0]?.n ?? 0);
        total += n;
        if (n === 0) return total;
      }
    },
  };
}
