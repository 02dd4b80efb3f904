import { randomBytes, randomUUID } from 'node:crypto';
import { sha256Hex } from '../lib/sha256';
import type { ApiKeyRecord, Db } from './types';

const KEY_PREFIX = 'sk-llm-';
const DISPLAY_LENGTH = KEY_PREFIX.length + 6;

export interface NewKey {
  name: string;
  rpm?: number | null;
  tpm?: number | null;
  monthlyTokenBudget?: number | null;
  models?: string[] | null;
}

export interface KeyStore {
  /** Creates a key; the plaintext exists only in this return value. */
  create(input: NewKey): Promise<{ record: ApiKeyRecord; key: string }>;
  findByHash(hash: string): Promise<ApiKeyRecord | null>;
  list(): Promise<ApiKeyRecord[]>;
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
  models: string[] | null;
  created_at: Date | string;
  revoked_at: Date | string | null;
}

const COLUMNS = 'id, name, prefix, rpm, tpm, monthly_token_budget, models, created_at, revoked_at';

function toRecord(r: Row): ApiKeyRecord {
  return {
    id: r.id,
    name: r.name,
    prefix: r.prefix,
    rpm: r.rpm,
    tpm: r.tpm,
    monthlyTokenBudget: r.monthly_token_budget === null ? null : Number(r.monthly_token_budget),
    models: r.models,
    createdAt: new Date(r.created_at),
    revokedAt: r.revoked_at === null ? null : new Date(r.revoked_at),
  };
}

export function createKeyStore({ db }: { db: Db }): KeyStore {
  return {
    async create(input) {
      const key = generateKey();
      const { rows } = await db.query<Row>(
        `INSERT INTO api_keys (id, name, key_hash, prefix, rpm, tpm, monthly_token_budget, models)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ${COLUMNS}`,
        [
          randomUUID(),
          input.name,
          hashKey(key),
          key.slice(0, DISPLAY_LENGTH),
          input.rpm ?? null,
          input.tpm ?? null,
          input.monthlyTokenBudget ?? null,
          input.models ?? null,
        ],
      );
      return { record: toRecord(rows[0]), key };
    },
    async findByHash(hash) {
      const { rows } = await db.query<Row>(`SELECT ${COLUMNS} FROM api_keys WHERE key_hash = $1`, [hash]);
      return rows[0] ? toRecord(rows[0]) : null;
    },
    async list() {
      const { rows } = await db.query<Row>(`SELECT ${COLUMNS} FROM api_keys ORDER BY created_at, id`);
      return rows.map(toRecord);
    },
    async revoke(id) {
      const { rows } = await db.query(
        'UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL RETURNING id',
        [id],
      );
      return rows.length > 0;
    },
  };
}
