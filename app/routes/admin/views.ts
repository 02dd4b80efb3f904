import type { ApiKeyRecord, TeamRecord } from '../../stores/types';

/** The public view of a key: never its hash, and its plaintext only when just created. */
export function keyView(r: ApiKeyRecord) {
  return {
    id: r.id,
    object: 'api_key',
    name: r.name,
    prefix: r.prefix,
    rpm: r.rpm,
    tpm: r.tpm,
    monthly_token_budget: r.monthlyTokenBudget,
    monthly_budget_usd: r.monthlyBudgetUsd,
    daily_budget_usd: r.dailyBudgetUsd,
    team_id: r.teamId,
    models: r.models,
    created_at: r.createdAt.toISOString(),
    revoked_at: r.revokedAt ? r.revokedAt.toISOString() : null,
  };
}

export function teamView(t: TeamRecord) {
  return {
    id: t.id,
    object: 'team',
    name: t.name,
    rpm: t.rpm,
    tpm: t.tpm,
    monthly_budget_usd: t.monthlyBudgetUsd,
    daily_budget_usd: t.dailyBudgetUsd,
    models: t.models,
    created_at: t.createdAt.toISOString(),
  };
}
