import { randomUUID } from 'node:crypto';
import { KEYS_USAGE, runKeysCommand } from '../../../app/cli/keys';
import { createKeyStore, hashKey, type KeyStore } from '../../../app/stores/keys';
import { runTeamsCommand, TEAMS_USAGE } from '../../../app/cli/teams';
import { createTeamStore, type TeamStore } from '../../../app/stores/teams';
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

/** Creates a key through the command; returns its id and plaintext as printed. */
async function create(...args: string[]): Promise<{ id: string; key: string; out: string }> {
  const out = await runKeysCommand(keys, ['create', ...args]);
  const id = /^created key ([0-9a-f-]{36}) /.exec(out)?.[1];
  const key = /^key: (sk-llm-\S+)$/m.exec(out)?.[1];
  if (!id || !key) throw new Error(`unexpected output:\n${out}`);
  return { id, key, out };
}

describe('keys command: list on an empty database', () => {
  it('says there are no keys', async () => {
    expect(await runKeysCommand(keys, ['list'])).toBe('no keys');
  });
});

describe('keys command: create', () => {
  it('creates a key with defaults and prints its plaintext once, with a warning', async () => {
    const { id, key, out } = await create('--name', '  ci bot  ');
    expect(out.split('\n')).toEqual([`created key ${id} (ci bot)`, `key: ${key}`, expect.stringMatching(/cannot be shown again/)]);
    expect(await keys.findByHash(hashKey(key))).toMatchObject({
      id,
      name: 'ci bot',
      rpm: null,
      tpm: null,
      monthlyTokenBudget: null,
      models: null,
      revokedAt: null,
    });
  });

  it('applies --rpm, --tpm, --budget and a comma-separated --models list', async () => {
    const { key } = await create('--name', 'limited', '--rpm', '10', '--tpm', '5000', '--budget', '3000000000', '--models', 'gpt-4o-mini, o3,,');
    expect(await keys.findByHash(hashKey(key))).toMatchObject({
      name: 'limited',
      rpm: 10,
      tpm: 5000,
      monthlyTokenBudget: 3_000_000_000,
      models: ['gpt-4o-mini', 'o3'],
    });
  });

  it.each([
    [['--rpm', '5'], /--name is required/],
    [['--name', '   '], /--name is required/],
    [['--name', 'x', '--rpm', '0'], /--rpm must be a whole number from 1 to 2147483647, got '0'/],
    [['--name', 'x', '--rpm', '3000000000'], /--rpm must be a whole number from 1 to 2147483647/],
    [['--name', 'x', '--tpm', '1.5'], /--tpm must be a whole number from 1 to 2147483647, got '1.5'/],
    [['--name', 'x', '--budget', 'lots'], /--budget must be a whole number from 1 to \d+, got 'lots'/],
    [['--name', 'x', '--budget', '1e20'], /--budget must be a whole number/],
  ])('refuses %j without creating anything', async (args, message) => {
    const before = (await keys.list()).length;
    await expect(runKeysCommand(keys, ['create', ...args])).rejects.toThrow(message);
    expect(await keys.list()).toHaveLength(before);
  });

  it('shows the usage when --name is missing', async () => {
    await expect(runKeysCommand(keys, ['create'])).rejects.toThrow(KEYS_USAGE);
  });

  it('refuses an option it does not know', async () => {
    await expect(runKeysCommand(keys, ['create', '--name', 'x', '--admin'])).rejects.toThrow(/--admin[\s\S]*usage:/);
  });
});

describe('keys command: list and revoke', () => {
  it('lists keys by id, prefix and name with their limits, never the key itself', async () => {
    const a = await create('--name', 'lister', '--rpm', '7');
    const out = await runKeysCommand(keys, ['list']);
    const line = out.split('\n').find((l) => l.startsWith(a.id));
    expect(line).toBe(`${a.id}  ${a.key.slice(0, 13)}…  lister  rpm=7 tpm=default`);
    expect(out).not.toContain(a.key);
    expect(out).not.toContain(hashKey(a.key));
  });

  it('revokes a key, shows it as revoked, and refuses to revoke it again', async () => {
    const { id, key } = await create('--name', 'doomed');
    expect(await runKeysCommand(keys, ['revoke', id])).toBe(`revoked ${id}`);
    expect((await keys.findByHash(hashKey(key)))?.revokedAt).toBeInstanceOf(Date);
    const line = (await runKeysCommand(keys, ['list'])).split('\n').find((l) => l.startsWith(id));
    expect(line).toMatch(/ {2}revoked \d{4}-\d{2}-\d{2}T/);
    await expect(runKeysCommand(keys, ['revoke', id])).rejects.toThrow(`no live key with id '${id}'`);
  });

  it.each([randomUUID(), 'not-a-uuid'])('refuses to revoke an unknown id %s', async (id) => {
    await expect(runKeysCommand(keys, ['revoke', id])).rejects.toThrow(`no live key with id '${id}'`);
  });

  it('asks for an id when revoke has none', async () => {
    await expect(runKeysCommand(keys, ['revoke'])).rejects.toThrow(/revoke needs a key id/);
  });
});

describe('keys command: usage', () => {
  it.each([[['rotate']], [[]], [['--name', 'x']]])('answers %j with the usage text', async (args) => {
    const err = (await runKeysCommand(keys, args).catch((e: unknown) => e)) as Error;
    expect(err.message).toBe(KEYS_USAGE);
    expect(KEYS_USAGE).toMatch(/create --name NAME/);
    expect(KEYS_USAGE).toMatch(/list/);
    expect(KEYS_USAGE).toMatch(/revoke ID/);
  });
});

describe('keys command: teams and dollar budgets', () => {
  it('creates a key in a team with dollar budgets, then updates and clears settings', async () => {
    const team = await teams.create({ name: 'cli-team' });
    const { id, key } = await create('--name', 'spender', '--team', team.id, '--monthly-usd', '25.5', '--daily-usd', '2');
    expect(await keys.findByHash(hashKey(key))).toMatchObject({ teamId: team.id, monthlyBudgetUsd: 25.5, dailyBudgetUsd: 2 });
    const out = await runKeysCommand(keys, ['update', id, '--daily-usd', 'none', '--rpm', '9', '--team', 'none']);
    expect(out).toBe(`updated ${id}  ${key.slice(0, 13)}…  spender  rpm=9 tpm=default  monthly=$25.5 daily=none`);
    expect(await keys.get(id)).toMatchObject({ teamId: null, dailyBudgetUsd: null, monthlyBudgetUsd: 25.5, rpm: 9 });
    const line = (await runKeysCommand(keys, ['list'])).split('\n').find((l) => l.startsWith(id));
    expect(line).toContain('monthly=$25.5 daily=none');
  });

  it.each([
    [['--name', 'x', '--monthly-usd', '0'], /--monthly-usd must be an amount in USD above 0/],
    [['--name', 'x', '--daily-usd', 'abc'], /--daily-usd must be an amount/],
    [['--name', 'x', '--team', randomUUID()], /no team with id/],
    [['--name', 'x', 'extra'], /unexpected argument 'extra'/],
  ])('refuses %j without creating anything', async (args, message) => {
    const before = (await keys.list()).length;
    await expect(runKeysCommand(keys, ['create', ...args])).rejects.toThrow(message);
    expect(await keys.list()).toHaveLength(before);
  });

  it('update needs an id of an existing key', async () => {
    await expect(runKeysCommand(keys, ['update'])).rejects.toThrow(/update needs a key id/);
    await expect(runKeysCommand(keys, ['update', randomUUID(), '--rpm', '1'])).rejects.toThrow(/no key with id/);
  });
});

describe('teams command', () => {
  it('creates, shows, lists, updates and deletes a team', async () => {
    const out = await runTeamsCommand(teams, ['create', '--name', ' finance ', '--monthly-usd', '500', '--tpm', '20000', '--models', 'gpt-4o,o3']);
    const id = /^created team ([0-9a-f-]{36}) /.exec(out)?.[1];
    expect(out).toBe(`created team ${id}  finance  rpm=none tpm=20000  monthly=$500 daily=none  models=gpt-4o,o3`);
    expect(await runTeamsCommand(teams, ['show', id!])).toBe(out.replace('created team ', ''));
    expect(await runTeamsCommand(teams, ['list'])).toContain(`${id}  finance`);
    expect(await runTeamsCommand(teams, ['update', id!, '--daily-usd', '20', '--models', 'none'])).toMatch(/daily=\$20 {2}models=all$/);
    expect(await runTeamsCommand(teams, ['delete', id!])).toBe(`deleted team ${id}`);
    await expect(runTeamsCommand(teams, ['show', id!])).rejects.toThrow(/no team with id/);
  });

  it('refuses to delete a team with live keys', async () => {
    const team = await teams.create({ name: 'kept' });
    await create('--name', 'member', '--team', team.id);
    await expect(runTeamsCommand(teams, ['delete', team.id])).rejects.toThrow(/still has live keys/);
  });

  it.each([
    [['create'], /--name is required/],
    [['create', '--name', 'x', '--rpm', '0'], /--rpm must be a whole number/],
    [['update'], /update needs a team id/],
    [['delete', randomUUID()], /no team with id/],
    [['rename'], /usage:/],
    [['create', '--name', 'x', '--budget', '5'], /Unknown option '--budget'[\s\S]*usage:/],
  ])('refuses %j', async (args, message) => {
    await expect(runTeamsCommand(teams, args)).rejects.toThrow(message);
    expect(TEAMS_USAGE).toMatch(/npm run teams -- create --name NAME/);
  });
});
