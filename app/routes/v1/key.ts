import type { FastifyInstance } from 'fastify';
import { AuthenticationError } from '../../errors';
import { dayWindow, monthWindow } from '../../stores/limiter-math';
import type { ApiKeyRecord, TeamRecord } from '../../stores/types';
import type { UsageQuery } from '../../stores/usage-query';

export interface KeyRouteDeps {
  usage: Pick<UsageQuery, 'spendSince' | 'monthTokens'>;
  /** DEFAULT_RPM / DEFAULT_TPM: what a key without its own limits gets. */
  limits: { rpm: number; tpm: number };
  /** @default Date.now */
  now?: () => number;
}

interface Period {
  budget_usd: number | null;
  spent_usd: number;
  remaining_usd: number | null;
  resets_at: string;
}

function period(budget: number | null, spent: number, resetsAt: Date): Period {
  const round = (n: number) => Math.round(n * 1e6) / 1e6;
  return {
    budget_usd: budget,
    spent_usd: round(spent),
    remaining_usd: budget === null ? null : round(Math.max(0, budget - spent)),
    resets_at: resetsAt.toISOString(),
  };
}

/**
 * GET /v1/key: the calling key's own limits, budgets, spend and reset times, and its team's, so a
 * team can see where it stands without the admin token. No secrets: no hash, no plaintext, no other
 * keys. Spend is what the usage table holds (written within a second or so of each request), in
 * calendar days and months of UTC.
 */
export function keyRoute(app: FastifyInstance, deps: KeyRouteDeps) {
  const now = deps.now ?? Date.now;

  async function budgets(scope: 'key' | 'team', r: ApiKeyRecord | TeamRecord, nowMs: number) {
    const day = dayWindow(nowMs);
    const month = monthWindow(nowMs);
    const [daySpent, monthSpent] = await Promise.all([
      deps.usage.spendSince(scope, r.id, day.start),
      deps.usage.spendSince(scope, r.id, month.start),
    ]);
    return {
      daily: period(r.dailyBudgetUsd, daySpent, day.end),
      monthly: period(r.monthlyBudgetUsd, monthSpent, month.end),
    };
  }

  app.get('/v1/key', async (request) => {
    const key = request.apiKey;
    if (!key) throw new AuthenticationError();
    const nowMs = now();
    const month = monthWindow(nowMs);
    const team = key.team;
    const [keyBudgets, teamBudgets, monthTokens] = await Promise.all([
      budgets('key', key, nowMs),
      team ? budgets('team', team, nowMs) : undefined,
      key.monthlyTokenBudget === null ? undefined : deps.usage.monthTokens(key.id, month.start),
    ]);
    return {
      object: 'api_key',
      id: key.id,
      name: key.name,
      prefix: key.prefix,
      rpm: key.rpm ?? deps.limits.rpm,
      tpm: key.tpm ?? deps.limits.tpm,
      models: key.models,
      monthly_token_budget:
        key.monthlyTokenBudget === null
          ? null
          : {
              budget_tokens: key.monthlyTokenBudget,
              used_tokens: monthTokens ?? 0,
              resets_at: month.end.toISOString(),
            },
      budgets: keyBudgets,
      team: team
        ? { id: team.id, name: team.name, rpm: team.rpm, tpm: team.tpm, models: team.models, budgets: teamBudgets }
        : null,
    };
  });
}
