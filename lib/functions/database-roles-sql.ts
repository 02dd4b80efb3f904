/**
 * The SQL that gives the gateway its own database identities, run as the master user by the
 * database-roles custom resource. Idempotent: it runs on every create and update.
 *
 * - `migrationUser` owns the schema: it runs migrations (CREATE, ALTER, DROP).
 * - `appUser` reads and writes rows of the tables the migration user creates, nothing more.
 * Both log in with IAM authentication tokens (the `rds_iam` role), so no password exists for them.
 * Tables the master user created before these roles existed move to the migration user.
 */

export interface DatabaseRoleNames {
  readonly appUser: string;
  readonly migrationUser: string;
  readonly databaseName: string;
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

function ident(name: string): string {
  if (!IDENTIFIER.test(name)) throw new Error(`"${name}" is not a plain lowercase SQL identifier`);
  return `"${name}"`;
}

export function databaseRolesSql(names: DatabaseRoleNames): string[] {
  const app = ident(names.appUser);
  const migrator = ident(names.migrationUser);
  const db = ident(names.databaseName);
  const create = (role: string, raw: string) =>
    `DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${raw}') THEN CREATE ROLE ${role} LOGIN; END IF; END $$`;
  return [
    create(migrator, names.migrationUser),
    create(app, names.appUser),
    // rds_iam exists only on RDS; elsewhere (tests) the roles log in however the server allows.
    `DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'rds_iam') THEN GRANT rds_iam TO ${migrator}, ${app}; END IF; END $$`,
    // The master user acts for the migration user: to give it the old tables and set its defaults.
    `GRANT ${migrator} TO CURRENT_USER`,
    `GRANT CONNECT, TEMPORARY, CREATE ON DATABASE ${db} TO ${migrator}`,
    `GRANT CONNECT ON DATABASE ${db} TO ${app}`,
    `GRANT USAGE, CREATE ON SCHEMA public TO ${migrator}`,
    `GRANT USAGE ON SCHEMA public TO ${app}`,
    `DO $$ DECLARE r record; BEGIN
       FOR r IN SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm') AND pg_get_userbyid(c.relowner) = CURRENT_USER LOOP
         EXECUTE format(CASE r.relkind WHEN 'v' THEN 'ALTER VIEW public.%I OWNER TO ${migrator}'
                                       WHEN 'm' THEN 'ALTER MATERIALIZED VIEW public.%I OWNER TO ${migrator}'
                                       ELSE 'ALTER TABLE public.%I OWNER TO ${migrator}' END, r.relname);
       END LOOP;
       FOR r IN SELECT p.oid::regprocedure AS sig FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                WHERE n.nspname = 'public' AND pg_get_userbyid(p.proowner) = CURRENT_USER LOOP
         EXECUTE format('ALTER ROUTINE %s OWNER TO ${migrator}', r.sig);
       END LOOP;
     END $$`,
    `GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${app}`,
    `GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ${app}`,
    `GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO ${app}`,
    `ALTER DEFAULT PRIVILEGES FOR ROLE ${migrator} IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ${app}`,
    `ALTER DEFAULT PRIVILEGES FOR ROLE ${migrator} IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO ${app}`,
    `ALTER DEFAULT PRIVILEGES FOR ROLE ${migrator} IN SCHEMA public GRANT EXECUTE ON FUNCTIONS TO ${app}`,
  ];
}
