import type { FastifyInstance } from 'fastify';
import { InvalidRequestError } from '../../errors';
import { usageQuery } from '../../schemas/requests';
import type { UsageSummary, UsageTotals } from '../../stores/types';
import type { UsageFilter, UsageGroup, UsageGroupBy } from '../../stores/usage-query';

export interface UsageReader {
  summary(filter: UsageFilter): Promise<UsageSummary>;
  grouped(filter: UsageFilter, by: UsageGroupBy): Promise<UsageGroup[]>;
}

const GROUP_FIELD: Record<UsageGroupBy, string> = { key: 'key_id', team: 'team_id', model: 'model', day: 'day' };
const TOTALS: Array<keyof UsageTotals> = [
  'requests',
  'prompt_tokens',
  'completion_tokens',
  'total_tokens',
  'cached_requests',
  'cached_input_tokens',
  'cache_write_tokens',
  'reasoning_tokens',
  'cost_usd',
  'unpriced_requests',
];

const EXPECTED: Record<string, string> = {
  key_id: 'a key id (uuid)',
  team_id: 'a team id (uuid)',
  model: 'a model name',
  group_by: 'one of key, team, model, day',
  format: 'json or csv',
};

/**
 * RFC 4180 quoting, and a leading quote before `=`, `+`, `@` so a model name cannot become a
 * spreadsheet formula when the file is opened.
 */
function csvField(v: string | number | null): string {
  if (v === null) return '';
  let s = String(v);
  if (/^[=+@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function usageCsv(by: UsageGroupBy, groups: UsageGroup[]): string {
  const lines = [[GROUP_FIELD[by], ...TOTALS].join(',')];
  for (const g of groups) {
    // cost_usd as Postgres summed it: exact, not a float's rendering.
    lines.push([g.group, ...TOTALS.map((k) => (k === 'cost_usd' ? g.cost_usd_text : g[k]))].map(csvField).join(','));
  }
  return `${lines.join('\r\n')}\r\n`;
}

/**
 * Usage from the daily rollup: totals and per-model sums, optionally per key, team, model or day
 * (`group_by`), as JSON or CSV (`format=csv`, one row per group; by model when no group_by).
 */
export function adminUsageRoute(app: FastifyInstance, usage: UsageReader) {
  app.get('/admin/usage', async (request, reply) => {
    const parsed = usageQuery.safeParse(request.query ?? {});
    if (!parsed.success) {
      const param = String(parsed.error.issues[0].path[0] ?? '');
      throw new InvalidRequestError(`Invalid value for '${param}': expected ${EXPECTED[param] ?? 'an ISO 8601 date'}.`, param);
    }
    const q = parsed.data;
    const filter: UsageFilter = {
      keyId: q.key_id,
      teamId: q.team_id,
      model: q.model,
      since: q.since ? new Date(q.since) : undefined,
      until: q.until ? new Date(q.until) : undefined,
    };
    if (q.format === 'csv') {
      const by = q.group_by ?? 'model';
      return reply
        .header('content-type', 'text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="usage-by-${by}.csv"`)
        .send(usageCsv(by, await usage.grouped(filter, by)));
    }
    const summary = await usage.summary(filter);
    if (!q.group_by) return summary;
    const field = GROUP_FIELD[q.group_by];
    const groups = await usage.grouped(filter, q.group_by);
    return {
      ...summary,
      group_by: q.group_by,
      groups: groups.map(({ group, cost_usd_text: _exact, ...totals }) => ({ [field]: group, ...totals })),
    };
  });
}
