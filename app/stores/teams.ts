import { randomUUID } from 'node:crypto';
import type { Db, TeamRecord } from './types';

/** The fields a team is created or changed with; on update, absent means unchanged and null clears. */
export interface TeamInput {
  name?: string;
  rpm?: number | null;
  tpm?: number | null;
  monthlyBudgetUsd?: number | null;
  dailyBudgetUsd?: number | null;
  models?: string[] | null;
}

export interface TeamStore {
  create(input: TeamInput & { name: string }): Promise<TeamRecord>;
  get(id: string): Promise<TeamRecord | null>;
  list(): Promise<TeamRecord[]>;
  /** Null when no such team. */
  update(id: string, patch: TeamInput): Promise<TeamRecord | null>;
  /**
   * Deletes the team unless live keys still belong to it: deleting would silently lift the team's
   * budgets off them. Revoked keys just lose the link.
   */
  delete(id: string): Promise<'deleted' | 'not_found' | 'has_keys'>;
}

/** A key named a team that does not exist. */
export class TeamNotFoundError extends Error {
  constructor(readonly teamId: string) {
    super(`no team with id '${teamId}'`);
    this.name = 'TeamNotFoundError';
  }
}

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface TeamRow {
  id: string;
  name: string;
  rpm: number | null;
  tpm: number | null;
  monthly_budget_usd: string | number | null;
  daily_budget_usd: string | number | null;
  models: string[] | null;
  created_at: Date | string;
}

export const TEAM_COLUMNS = 'id, name, rpm, tpm, monthly_budget_usd, daily_budget_usd, models, created_at';

/** numeric columns arrive as strings. */
export function money(v: string | number | null): number | null {
  return v === null ? null : Number(v);
}

export function toTeam(r: TeamRow): TeamRecord {
  return {
    id: r.id,
    name: r.name,
    rpm: r.rpm,
    tpm: r.tpm,
    monthlyBudgetUsd: money(r.monthly_budget_usd),
    dailyBudgetUsd: money(r.daily_budget_usd),
    models: r.models,
    createdAt: new Date(r.created_at),
  };
}

const FIELDS: Array<[keyof TeamInput, string]> = [
  ['name', 'name'],
  ['rpm', 'rpm'],
  ['tpm', 'tpm'],
  ['monthlyBudgetUsd', 'monthly_budget_usd'],
  ['dailyBudgetUsd', 'daily_budget_usd'],
  ['models', 'models'],
];

/** `SET a = $n, …` for the fields present in `patch` (undefined = leave as is). */
export function setClause<T extends object>(patch: T, fields: Array<[keyof T, string]>, params: unknown[]): string {
  return fields
    .filter(([k]) => patch[k] !== undefined)
    .map(([k, col]) => `${col} = $${params.push(patch[k])}`)
    .join(', ');
}

export function createTeamStore({ db }: { db: Pick<Db, 'query'> }): TeamStore {
  async function get(id: string): Promise<TeamRecord | null> {
    if (!UUID.test(id)) return null;
    const { rows } = await db.query<TeamRow>(`SELECT ${TEAM_COLUMNS} FROM teams WHERE id = $1`, [id]);
    return rows[0] ? toTeam(rows[0]) : null;
  }

  return {
    async create(input) {
      const { rows } = await db.query<TeamRow>(
        `INSERT INTO teams (id, name, rpm, tpm, monthly_budget_usd, daily_budget_usd, models)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${TEAM_COLUMNS}`,
        [
          randomUUID(),
          input.name,
          input.rpm ?? null,
          input.tpm ?? null,
          input.monthlyBudgetUsd ?? null,
          input.dailyBudgetUsd ?? null,
          input.models ?? null,
        ],
      );
      return toTeam(rows[0]);
    },
    get,
    async list() {
      const { rows } = await db.query<TeamRow>(`SELECT ${TEAM_COLUMNS} FROM teams ORDER BY created_at, id`);
      return rows.map(toTeam);
    },
    async update(id, patch) {
      if (!UUID.test(id)) return null;
      const params: unknown[] = [id];
      const set = setClause(patch, FIELDS, params);
      if (!set) return get(id);
      const { rows } = await db.query<TeamRow>(`UPDATE teams SET ${set} WHERE id = $1 RETURNING ${TEAM_COLUMNS}`, params);
      return rows[0] ? toTeam(rows[0]) : null;
    },
    async delete(id) {
      if (!UUID.test(id)) return 'not_found';
      // One statement: a key joining the team meanwhile either blocks the delete or sees it gone.
      const { rows } = await db.query<{ outcome: string }>(
        `WITH live AS (SELECT 1 FROM api_keys WHERE team_id = $1 AND revoked_at IS NULL LIMIT 1),
              gone AS (DELETE FROM teams WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM live) RETURNING 1)
         SELECT CASE WHEN EXISTS (SELECT 1 FROM gone) THEN 'deleted'
                     WHEN EXISTS (SELECT 1 FROM live) THEN 'has_keys'
                     ELSE 'not_found' END AS outcome`,
        [id],
      );
      return rows[0].outcome as 'deleted' | 'not_found' | 'has_keys';
    },
  };
}
