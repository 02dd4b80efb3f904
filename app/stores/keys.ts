import { randomBytes, randomUUID } from 'node:crypto';
import { sha256Hex } from '../lib/sha256';
import { money, setClause, TeamNotFoundError, toTeam, UUID, type TeamRow } from './teams';
import type { ApiKeyRecord, Db } from './types';

const KEY_PREFIX = 'sk-llm-';
const DISPLAY_LENGTH = KEY_PREFIX.length + 6;

/** A key's settings; on update, absent means unchanged and null clears. */
export interface KeySettings {
  rpm?: number | null;
  tpm?: number | null;
  monthlyTokenBudget?: number | null;
  monthlyBudgetUsd?: number | null;
  dailyBudgetUsd?: number | null;
  teamId?: string | null;
  models?: string[] | null;
}

export interface NewKey extends KeySettings {
  name: string;
}

export interface KeyStore {
  /** Creates a key; the plaintext exists only in this return value. Throws TeamNotFoundError. */
  create(input: NewKey): Promise<{ record: ApiKeyRecord; key: string }>;
  /** The key with its team, in one query (the authenticator caches both together). */
  findByHash(hash: string): Promise<ApiKeyRecord | null>;
  get(id: string): Promise<ApiKeyRecord | null>;
  list(filter?: { teamId?: string }): Promise<ApiKeyRecord[]>;
  /** Changes settings of a key (revoked ones too); null when no such key. Throws TeamNotFoundError. */
  update(id: string, patch: KeySettings & { name?: string }): Promise<ApiKeyRecord | null>;
  /** Marks the key revoked; false when no such live key exists. */
  revoke(id: string): Promise<boolean>;
}

export function hashKey(key: string): string {
  return sha256Hex(key);
}

export function generateKey(): string {
  return KEY_PREFIX + randomBytes(24).toString('base64url');
}

interface Row {
  id: string;
  name: string;
  prefix: string;
  rpm: number | null;
  tpm: number | null;
  monthly_token_budget: string | number | null;
  monthly_budget_usd: string | number | null;
  daily_budget_usd: string | number | null;
  team_id: string | null;
  models: string[] | null;
  created_at: Date | string;
  revoked_at: Date | string | null;
  /** The team's row as JSON (null without a team). */
  team: (Omit<TeamRow, 'created_at'> & { created_at: string }) | null;
}

const KEY_COLUMNS = [
  'id',
  'name',
  'prefix',
  'rpm',
  'tpm',
  'monthly_token_budget',
  'monthly_budget_usd',
  'daily_budget_usd',
  'team_id',
  'models',
  'created_at',
  'revoked_at',
];
/** The key and its team in one row: a left join, the team folded into one JSON column. */
const SELECT = `SELECT ${KEY_COLUMNS.map((c) => `k.${c}`).join(', ')},
  CASE WHEN t.id IS NULL THEN NULL ELSE json_build_object(
    'id', t.id, 'name', t.name, 'rpm', t.rpm, 'tpm', t.tpm, 'monthly_budget_usd', t.monthly_budget_usd,
    'daily_budget_usd', t.daily_budget_usd, 'models', t.models, 'created_at', t.created_at) END AS team
  FROM api_keys k LEFT JOIN teams t ON t.id = k.team_id`;

function toRecord(r: Row): ApiKeyRecord {
  return {
    id: r.id,
    name: r.name,
    prefix: r.prefix,
    rpm: r.rpm,
    tpm: r.tpm,
    monthlyTokenBudget: money(r.monthly_token_budget),
    monthlyBudgetUsd: money(r.monthly_budget_usd),
    dailyBudgetUsd: money(r.daily_budget_usd),
    teamId: r.team_id,
    models: r.models,
    createdAt: new Date(r.created_at),
    revokedAt: r.revoked_at === null ? null : new Date(r.revoked_at),
    team: r.team ? toTeam(r.team) : null,
  };
}

const FIELDS: Array<[keyof (KeySettings & { name?: string }), string]> = [
  ['name', 'name'],
  ['rpm', 'rpm'],
  ['tpm', 'tpm'],
  ['monthlyTokenBudget', 'monthly_token_budget'],
  ['monthlyBudgetUsd', 'monthly_budget_usd'],
  ['dailyBudgetUsd', 'daily_budget_usd'],
  ['teamId', 'team_id'],
  ['models', 'models'],
];

/** A foreign-key violation on team_id: the team named does not exist. */
async function orUnknownTeam<T>(teamId: string | null | undefined, fn: () => Promise<T>): Promise<T> {
  if (teamId && !UUID.test(teamId)) throw new TeamNotFoundError(teamId);
  try {
    return await fn();
  } catch (err) {
    if ((err as { code?: string }).code === '23503' && teamId) throw new TeamNotFoundError(teamId);
    throw err;
  }
}

export function createKeyStore({ db }: { db: Pick<Db, 'query'> }): KeyStore {
  async function get(id: string): Promise<ApiKeyRecord | null> {
    if (!UUID.test(id)) return null;
    const { rows } = await db.query<Row>(`${SELECT} WHERE k.id = $1`, [id]);
    return rows[0] ? toRecord(rows[0]) : null;
  }

  return {
    async create(input) {
      const key = generateKey();
      const id = randomUUID();
      await orUnknownTeam(input.teamId, () =>
        db.query(
          `INSERT INTO api_keys (id, name, key_hash, prefix, rpm, tpm, monthly_token_budget, monthly_budget_usd,
                                 daily_budget_usd, team_id, models)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
          [
            id,
            input.name,
            hashKey(key),
            key.slice(0, DISPLAY_LENGTH),
            input.rpm ?? null,
            input.tpm ?? null,
            input.monthlyTokenBudget ?? null,
            input.monthlyBudgetUsd ?? null,
            input.dailyBudgetUsd ?? null,
            input.teamId ?? null,
            input.models ?? null,
          ],
        ),
      );
      return { record: (await get(id))!, key };
    },
    async findByHash(hash) {
      const { rows } = await db.query<Row>(`${SELECT} WHERE k.key_hash = $1`, [hash]);
      return rows[0] ? toRecord(rows[0]) : null;
    },
    get,
    async list(filter = {}) {
      const params: unknown[] = [];
      const where = filter.teamId !== undefined ? `WHERE k.team_id = $${params.push(filter.teamId)}` : '';
      if (filter.teamId !== undefined && !UUID.test(filter.teamId)) return [];
      const { rows } = await db.query<Row>(`${SELECT} ${where} ORDER BY k.created_at, k.id`, params);
      return rows.map(toRecord);
    },
    async update(id, patch) {
      if (!UUID.test(id)) return null;
      const params: unknown[] = [id];
      const set = setClause(patch, FIELDS, params);
      if (!set) return get(id);
      const { rows } = await orUnknownTeam(patch.teamId, () =>
        db.query(`UPDATE api_keys SET ${set} WHERE id = $1 RETURNING id`, params),
      );
      return rows.length ? get(id) : null;
    },
    async revoke(id) {
      if (!UUID.test(id)) return false;
      const { rows } = await db.query(
        'UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL RETURNING id',
        [id],
      );
      return rows.length > 0;
    },
  };
}
