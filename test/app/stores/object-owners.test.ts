import { randomUUID } from 'node:crypto';
import { createObjectOwners } from '../../../app/stores/object-owners';
import { createTestDatabase, type TestDatabase } from '../../support/test-db';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(() => t?.drop());

async function until(check: () => Promise<boolean>) {
  const deadline = Date.now() + 3000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('object owners (Postgres)', () => {
  it('another replica finds the owner once the write lands; unknown ids have none', async () => {
    const errors: unknown[] = [];
    const here = createObjectOwners({ db: t.db, onError: (e) => errors.push(e) });
    const there = createObjectOwners({ db: t.db, onError: (e) => errors.push(e) });
    const keyId = randomUUID();
    here.remember('resp_owned_1', { keyId, provider: 'openai' });
    expect(await here.owner('resp_owned_1')).toEqual({ keyId, provider: 'openai' });
    await until(async () => (await there.owner('resp_owned_1')) !== null);
    expect(await there.owner('resp_owned_1')).toEqual({ keyId, provider: 'openai' });
    expect(await there.owner('resp_nobody')).toBeNull();
    // The first writer keeps it: an id cannot be taken over.
    here.remember('resp_owned_1', { keyId: randomUUID(), provider: 'openai' });
    await new Promise((r) => setTimeout(r, 100));
    expect(await createObjectOwners({ db: t.db, onError: () => undefined }).owner('resp_owned_1')).toEqual({ keyId, provider: 'openai' });
    expect(errors).toEqual([]);
  });

  it('forgets a deleted id and deletes mappings past the retention', async () => {
    const owners = createObjectOwners({ db: t.db, onError: () => undefined });
    owners.remember('resp_gone', { keyId: randomUUID(), provider: 'p' });
    await until(async () => (await t.db.query('SELECT 1 FROM object_owners WHERE id = $1', ['resp_gone'])).rows.length === 1);
    await owners.forget('resp_gone');
    expect(await owners.owner('resp_gone')).toBeNull();
    await t.db.query(`INSERT INTO object_owners (id, key_id, provider, created_at) VALUES ('resp_old', $1, 'p', now() - interval '100 days')`, [randomUUID()]);
    expect(await owners.deleteOlderThan(90)).toBe(1);
    expect((await t.db.query('SELECT 1 FROM object_owners WHERE id = $1', ['resp_old'])).rows).toHaveLength(0);
  });
});
