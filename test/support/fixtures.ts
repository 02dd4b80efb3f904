import { randomUUID } from 'node:crypto';
import type { ApiKeyRecord } from '../../app/stores/types';

/** A key record as the key store returns it: no limits of its own, no model list, a fresh id. */
export function keyRecord(over: Partial<ApiKeyRecord> = {}): ApiKeyRecord {
  return {
    id: randomUUID(),
    name: 'test',
    prefix: 'sk-llm-abcdef',
    rpm: null,
    tpm: null,
    monthlyTokenBudget: null,
    models: null,
    createdAt: new Date(),
    revokedAt: null,
    teamId: null,
    monthlyBudgetUsd: null,
    dailyBudgetUsd: null,
    team: null,
    ...over,
  };
}
