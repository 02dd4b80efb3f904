import { migrations as allMigrations, type Migration } from '../migrations';
import type { Db } from './types';

/** Any constant works; it only has to be the same in every replica. */
const MIGRATION_LOCK_ID = 7_311_004_221;

/**
 * Applies pending migrations in order, each in its own transaction, under a session advisory lock so
 * replicas that start together apply each file once. Returns the versions applied.
 */
export async function migrate(db: Db, migrations: Migration[] = allMigrations): Promise<number[]> {
  return db.withConnection(async (conn) => {
    await conn.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
    try {
      // Checked first: a role without CREATE on the schema (the gateway's own, under IAM auth) may
      // still run this when a migration role already brought the schema up to date.
      const { rows: table } = await conn.query<{ present: boolean }>(`SELECT to_regclass('schema_migrations') IS NOT NULL AS present`);
      if (!table[0]?.present) await conn.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version integer PRIMARY KEY,
        name text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
      const { rows } = await conn.query<{ version: number }>('SELECT version FROM schema_migrations');
      const done = new Set(rows.map((r) => Number(r.version)));
      const applied: number[] = [];
      for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
        if (done.has(m.version)) continue;
        await conn.exec('BEGIN');
        try {
          await conn.exec(m.sql);
          await conn.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
          await conn.exec('COMMIT');
        } catch (err) {
          await conn.exec('ROLLBACK');
          throw err;
        }
        applied.push(m.version);
      }
      return applied;
    } finally {
      await conn.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]);
    }
  });
}
