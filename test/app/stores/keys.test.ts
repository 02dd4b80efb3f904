import { createHash, randomUUID } from 'node:crypto';
import { createKeyStore, hashKey, type KeyStore } from '../../../app/stores/keys';
import { createTeamStore, TeamNotFoundError, type TeamStore } from '../../../app/stores/teams';
import { createTestDatabase, type TestDatabase } from '../../support/test-db';

let t: TestDatabase;
let keys: KeyStore;
let teams: TeamStore;
beforeAll(async () => {
  t = await createTestDatabase();
  keys = createKeyStore({ db: t.db });
  teams = createTeamStore({ db: t.db });
});
afterAll(() => t.drop());

async function row(id: string): Promise<Record<string, unknown>> {
  const { rows } = await t.db.query('SELECT * FROM api_keys WHERE id = $1', [id]);
  expect(rows).toHaveLength(1);
  return rows[0];
}

describe('key store: creating keys', () => {
  it('returns a fresh sk-llm- key once, with its record', async () => {
    const { record, key } = await keys.create({ name: 'ci' });
    expect(key).toMatch(/^sk-llm-[A-Za-z0-9_-]{32}$/);
    expect(record).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      name: 'ci',
      prefix: key.slice(0, 13),
      rpm: null,
      tpm: null,
      monthlyTokenBudget: null,
      monthlyBudgetUsd: null,
      dailyBudgetUsd: null,
      teamId: null,
      team: null,
      models: null,
      createdAt: expect.any(Date),
      revokedAt: null,
    });
    expect(Math.abs(record.createdAt.getTime() - Date.now())).toBeLessThan(60_000);
    const other = await keys.create({ name: 'ci' });
    expect(other.key).not.toBe(key);
    expect(other.record.id).not.toBe(record.id);
  });

  it('stores only the SHA-256 hash and a short prefix, never the plaintext', async () => {
    const { record, key } = await keys.create({ name: 'secret-check' });
    const stored = await row(record.id);
    expect(stored.key_hash).toBe(createHash('sha256').update(key).digest('hex'));
    expect(stored.prefix).toBe('sk-llm-' + key.slice(7, 13));
    const secretPart = key.slice(13);
    const text = JSON.stringify(stored);
    expect(text).not.toContain(key);
    expect(text).not.toContain(secretPart.slice(0, 12));
  });

  it('round-trips limits, a bigint budget and the model list', async () => {
    const input = { name: 'limited', rpm: 10, tpm: 5000, monthlyTokenBudget: 5_000_000_000, models: ['gpt-4o-mini', 'o3'] };
    const { record, key } = await keys.create(input);
    expect(record).toMatchObject(input);
    expect(await keys.findByHash(hashKey(key))).toEqual(record);
  });
});

describe('key store: finding keys', () => {
  it('finds a key by the hash of its plaintext', async () => {
    const { record, key } = await keys.create({ name: 'find-me' });
    expect(await keys.findByHash(hashKey(key))).toEqual(record);
  });

  it('finds nothing for an unknown key or a hash of the prefix', async () => {
    const { key } = await keys.create({ name: 'not-me' });
    expect(await keys.findByHash(hashKey(`${key}x`))).toBeNull();
    expect(await keys.findByHash(hashKey(key.slice(0, 13)))).toBeNull();
  });

  it('lists every key, oldest first, without hash or plaintext', async () => {
    const a = await keys.create({ name: 'list-a' });
    const b = await keys.create({ name: 'list-b' });
    const list = await keys.list();
    const ids = list.map((r) => r.id);
    expect(ids).toEqual(expect.arrayContaining([a.record.id, b.record.id]));
    expect(ids.indexOf(a.record.id)).toBeLessThan(ids.indexOf(b.record.id));
    const text = JSON.stringify(list);
    for (const k of [a.key, b.key]) {
      expect(text).not.toContain(k);
      expect(text).not.toContain(hashKey(k));
    }
    for (const r of list) expect(Object.keys(r).sort()).toEqual(Object.keys(a.record).sort());
  });
});

describe('key store: revoking keys', () => {
  it('revokes a live key once, setting revokedAt', async () => {
    const { record, key } = await keys.create({ name: 'revoke-me' });
    expect(await keys.revoke(record.id)).toBe(true);
    const found = await keys.findByHash(hashKey(key));
    expect(found?.revokedAt).toBeInstanceOf(Date);
    expect(found?.id).toBe(record.id);
    expect(await keys.revoke(record.id)).toBe(false);
  });

  it('keeps the first revocation time', async () => {
    const { record, key } = await keys.create({ name: 'revoke-twice' });
    await keys.revoke(record.id);
    const first = (await keys.findByHash(hashKey(key)))?.revokedAt;
    await keys.revoke(record.id);
    expect((await keys.findByHash(hashKey(key)))?.revokedAt).toEqual(first);
  });

  it('answers false for an unknown id, leaving other keys alone', async () => {
    const { key } = await keys.create({ name: 'bystander' });
    expect(await keys.revoke(randomUUID())).toBe(false);
    expect((await keys.findByHash(hashKey(key)))?.revokedAt).toBeNull();
  });
});

describe('key store: teams and dollar budgets', () => {
  it('loads the key with its team in the same lookup, budgets as numbers', async () => {
    const team = await teams.create({ name: 'research', rpm: 100, monthlyBudgetUsd: 250.5, dailyBudgetUsd: 12.25, models: ['gpt-4o'] });
    const { record, key } = await keys.create({ name: 'member', teamId: team.id, monthlyBudgetUsd: 10, dailyBudgetUsd: 0.01 });
    expect(record).toMatchObject({ teamId: team.id, monthlyBudgetUsd: 10, dailyBudgetUsd: 0.01, team });
    const found = await keys.findByHash(hashKey(key));
    expect(found).toEqual(record);
    expect(found?.team).toEqual({
      id: team.id,
      name: 'research',
      rpm: 100,
      tpm: null,
      monthlyBudgetUsd: 250.5,
      dailyBudgetUsd: 12.25,
      models: ['gpt-4o'],
      createdAt: team.createdAt,
    });
    expect((await keys.list({ teamId: team.id })).map((k) => k.id)).toEqual([record.id]);
  });

  it('refuses a team that does not exist, on create and on update', async () => {
    await expect(keys.create({ name: 'x', teamId: randomUUID() })).rejects.toBeInstanceOf(TeamNotFoundError);
    await expect(keys.create({ name: 'x', teamId: 'not-a-uuid' })).rejects.toBeInstanceOf(TeamNotFoundError);
    const { record } = await keys.create({ name: 'x' });
    await expect(keys.update(record.id, { teamId: randomUUID() })).rejects.toBeInstanceOf(TeamNotFoundError);
  });

  it('updates only the fields given; null clears', async () => {
    const team = await teams.create({ name: 'ops' });
    const { record } = await keys.create({ name: 'patch-me', rpm: 5, monthlyBudgetUsd: 3 });
    const moved = await keys.update(record.id, { teamId: team.id, dailyBudgetUsd: 1.5, rpm: null });
    expect(moved).toMatchObject({ name: 'patch-me', rpm: null, monthlyBudgetUsd: 3, dailyBudgetUsd: 1.5, teamId: team.id, team: { name: 'ops' } });
    expect(await keys.update(record.id, {})).toEqual(moved);
    expect(await keys.update(record.id, { teamId: null })).toMatchObject({ teamId: null, team: null });
    expect(await keys.update(randomUUID(), { rpm: 1 })).toBeNull();
    expect(await keys.update('nope', { rpm: 1 })).toBeNull();
  });
});

describe('team store', () => {
  it('creates, gets, lists, updates', async () => {
    const team = await teams.create({ name: 'a-team', tpm: 5000, models: ['o3'] });
    expect(team).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      name: 'a-team',
      rpm: null,
      tpm: 5000,
      monthlyBudgetUsd: null,
      dailyBudgetUsd: null,
      models: ['o3'],
      createdAt: expect.any(Date),
    });
    expect(await teams.get(team.id)).toEqual(team);
    expect((await teams.list()).map((x) => x.id)).toContain(team.id);
    expect(await teams.update(team.id, { name: 'renamed', monthlyBudgetUsd: 99.99, models: null })).toMatchObject({
      name: 'renamed',
      tpm: 5000,
      monthlyBudgetUsd: 99.99,
      models: null,
    });
    expect(await teams.get(randomUUID())).toBeNull();
    expect(await teams.get('nope')).toBeNull();
    expect(await teams.update(randomUUID(), { name: 'x' })).toBeNull();
  });

  it('refuses to delete a team with live keys; revoked keys just lose the link', async () => {
    const team = await teams.create({ name: 'doomed' });
    const { record } = await keys.create({ name: 'member', teamId: team.id });
    expect(await teams.delete(team.id)).toBe('has_keys');
    expect(await teams.get(team.id)).not.toBeNull();
    await keys.revoke(record.id);
    expect(await teams.delete(team.id)).toBe('deleted');
    expect(await teams.get(team.id)).toBeNull();
    expect((await keys.get(record.id))?.teamId).toBeNull();
    expect(await teams.delete(team.id)).toBe('not_found');
    expect(await teams.delete('nope')).toBe('not_found');
  });
});
