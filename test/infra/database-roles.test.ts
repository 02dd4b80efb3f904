/**
 * The SQL of the database-roles custom resource, run on a real PostgreSQL the way RDS runs it: as
 * a master user that may create roles but is no superuser. Then the app's own migrations run as
 * the migration role, and the gateway's role can use the tables but not change the schema.
 */
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { databaseRolesSql } from '../../lib/functions/database-roles-sql';
import { createPostgresDb } from '../../app/stores/db';
import { migrate } from '../../app/stores/migrate';
import { TEST_DATABASE_URL } from '../support/test-db';

const suffix = `${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
const names = { master: `t_master_${suffix}`, app: `t_app_${suffix}`, migrator: `t_migrator_${suffix}`, db: `llmapi_roles_${suffix}` };
const PASSWORD = 'roles-test';

function urlFor(user: string): string {
  const url = new URL(TEST_DATABASE_URL);
  url.username = user;
  url.password = PASSWORD;
  url.pathname = `/${names.db}`;
  return url.toString();
}

async function asAdmin(sql: string[]): Promise<void> {
  const admin = new Client({ connectionString: TEST_DATABASE_URL });
  await admin.connect();
  try {
    for (const s of sql) await admin.query(s);
  } finally {
    await admin.end();
  }
}

async function as<T>(user: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: urlFor(user) });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  await asAdmin([
    `CREATE ROLE ${names.master} LOGIN CREATEROLE PASSWORD '${PASSWORD}'`,
    `CREATE DATABASE ${names.db} OWNER ${names.master}`,
  ]);
  // A table the master user made before the roles existed (an existing deployment).
  await as(names.master, (c) => c.query('CREATE TABLE legacy (id bigserial PRIMARY KEY, v text)'));
  const sql = databaseRolesSql({ appUser: names.app, migrationUser: names.migrator, databaseName: names.db });
  // Twice: the custom resource runs it on every create and update.
  for (let i = 0; i < 2; i++) await as(names.master, async (c) => { for (const s of sql) await c.query(s); });
  // Locally the roles log in with a password; on RDS with IAM tokens (rds_iam).
  await asAdmin([`ALTER ROLE ${names.app} PASSWORD '${PASSWORD}'`, `ALTER ROLE ${names.migrator} PASSWORD '${PASSWORD}'`]);
}, 60_000);

afterAll(async () => {
  await asAdmin([
    `DROP DATABASE IF EXISTS ${names.db} WITH (FORCE)`,
    `DROP ROLE IF EXISTS ${names.app}`,
    `DROP ROLE IF EXISTS ${names.migrator}`,
    `DROP ROLE IF EXISTS ${names.master}`,
  ]);
});

describe('database roles', () => {
  test('the migration role applies the app migrations and owns what the master user made', async () => {
    const db = createPostgresDb({ connectionString: urlFor(names.migrator) });
    try {
      expect((await migrate(db)).length).toBeGreaterThan(0);
    } finally {
      await db.close();
    }
    await as(names.migrator, (c) => c.query('ALTER TABLE legacy ADD COLUMN w integer'));
  });

  test('the gateway role runs the no-op migration check and reads and writes rows', async () => {
    const db = createPostgresDb({ connectionString: urlFor(names.app) });
    try {
      expect(await migrate(db)).toEqual([]);
    } finally {
      await db.close();
    }
    await as(names.app, async (c) => {
      await c.query("INSERT INTO legacy (v) VALUES ('x')");
      expect((await c.query('SELECT count(*)::int AS n FROM legacy')).rows[0].n).toBe(1);
      expect((await c.query('SELECT count(*)::int AS n FROM schema_migrations')).rows[0].n).toBeGreaterThan(0);
    });
  });

  test('the gateway role cannot change the schema', async () => {
    await as(names.app, async (c) => {
      await expect(c.query('CREATE TABLE nope (id int)')).rejects.toThrow(/permission denied for schema public/);
      await expect(c.query('DROP TABLE legacy')).rejects.toThrow(/must be owner/);
      await expect(c.query('ALTER TABLE schema_migrations ADD COLUMN x int')).rejects.toThrow(/must be owner/);
    });
  });

  test('fails on a role name that is not a plain identifier', () => {
    expect(() => databaseRolesSql({ appUser: 'app"; DROP', migrationUser: 'm', databaseName: 'd' })).toThrow(/not a plain lowercase SQL identifier/);
  });
});
