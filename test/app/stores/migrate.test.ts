import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPgliteDb } from '../../../app/stores/db';
import { migrate } from '../../../app/stores/migrate';
import { migrations } from '../../../app/migrations';
import { createTestDatabase, type TestDatabase } from '../../support/test-db';

describe('migrations on Postgres', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase({ migrate: false });
  });
  afterAll(() => t.drop());

  it('applies every file once, even when replicas race', async () => {
    const results = await Promise.all([migrate(t.db), migrate(t.db), migrate(t.db)]);
    const applied = results.flat().sort();
    expect(applied).toEqual(migrations.map((m) => m.version));
    const { rows } = await t.db.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
    expect(rows.map((r) => r.version)).toEqual(migrations.map((m) => m.version));
    expect(await migrate(t.db)).toEqual([]);
  });

  it('rolls back a failing migration and leaves it pending', async () => {
    const bad = { version: 999, name: '999_bad', sql: 'CREATE TABLE half_done (a int); SELECT no_such_column FROM half_done;' };
    await expect(migrate(t.db, [...migrations, bad])).rejects.toThrow(/no_such_column/);
    const { rows } = await t.db.query("SELECT to_regclass('half_done') AS t");
    expect(rows[0].t).toBeNull();
  });
});

describe('migrations on PGlite', () => {
  it('runs the same files on the embedded database', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'llmapi-pglite-'));
    const db = await createPgliteDb(dir);
    try {
      expect(await migrate(db)).toEqual(migrations.map((m) => m.version));
      await db.query(
        "INSERT INTO api_keys (id, name, key_hash, prefix, models) VALUES (gen_random_uuid(), 'x', repeat('a', 64), 'sk-x', $1)",
        [['gpt-4o']],
      );
      const { rows } = await db.query<{ models: string[] }>('SELECT models FROM api_keys');
      expect(rows[0].models).toEqual(['gpt-4o']);
    } finally {
      await db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
