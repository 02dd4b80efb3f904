import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { createPostgresDb } from '../../app/stores/db';
import { migrate } from '../../app/stores/migrate';
import type { Db } from '../../app/stores/types';

/** The server the integration suites use; each run gets a fresh database on it. */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface TestDatabase {
  url: string;
  db: Db;
  drop(): Promise<void>;
}

/** Creates a new empty database (migrated unless told otherwise) and a way to drop it. */
export async function createTestDatabase(opts: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const name = `llmapi_t_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  const admin = new Client({ connectionString: TEST_DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${name}`;
  const db = createPostgresDb({ connectionString: url.toString() });
  if (opts.migrate !== false) await migrate(db);
  return {
    url: url.toString(),
    db,
    drop: async () => {
      await db.close().catch(() => undefined);
      const c = new Client({ connectionString: TEST_DATABASE_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}
