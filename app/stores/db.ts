import { mkdirSync } from 'node:fs';
import { Pool, type PoolConfig } from 'pg';
import type { Config } from '../config';
import type { Db } from './types';

export interface IamAuthOptions {
  /** The database endpoint the token is signed for (PGHOST). */
  hostname: string;
  port: number;
  /** The database role, which must be granted `rds_iam` (PGUSER). */
  username: string;
  /** @default - the AWS SDK's default region chain */
  region?: string;
}

/**
 * A password callback for node-postgres that returns a fresh RDS IAM authentication token each
 * time the pool opens a connection. Tokens are signed locally with the task role's credentials
 * (no network call) and are valid for 15 minutes, which is only needed at login; an open
 * connection outlives its token.
 */
export function iamAuthToken(opts: IamAuthOptions): () => Promise<string> {
  let signer: Promise<{ getAuthToken(): Promise<string> }> | undefined;
  return async () => {
    signer ??= import('@aws-sdk/rds-signer').then(
      ({ Signer }) => new Signer({ hostname: opts.hostname, port: opts.port, username: opts.username, region: opts.region }),
    );
    return (await signer).getAuthToken();
  };
}

/** The password callback `DATABASE_IAM_AUTH=true` asks for, else undefined (PGPASSWORD or the URL's password apply). */
export function databasePassword(config: Pick<Config, 'DATABASE_IAM_AUTH' | 'PGHOST' | 'PGPORT' | 'PGUSER' | 'AWS_REGION'>) {
  if (!config.DATABASE_IAM_AUTH) return undefined;
  if (!config.PGHOST || !config.PGUSER) {
    throw new Error('DATABASE_IAM_AUTH=true needs PGHOST and PGUSER: the IAM token is signed for that host and user');
  }
  return iamAuthToken({ hostname: config.PGHOST, port: config.PGPORT, username: config.PGUSER, region: config.AWS_REGION });
}

export interface PostgresOptions {
  /** Connection string; when absent, node-postgres reads PGHOST, PGUSER, PGPASSWORD, … */
  connectionString?: string;
  max?: number;
  /** Bounds every statement so a stalled database cannot hold a request forever. */
  statementTimeoutMs?: number;
  connectionTimeoutMs?: number;
  onError?: (err: Error) => void;
  /**
   * Called for every new connection's password, e.g. `iamAuthToken(…)`.
   * @default - node-postgres's own: the connection string's password, else PGPASSWORD
   */
  password?: () => Promise<string>;
}

export function createPostgresDb(opts: PostgresOptions): Db {
  const config: PoolConfig = {
    connectionString: opts.connectionString,
    max: opts.max ?? 10,
    connectionTimeoutMillis: opts.connectionTimeoutMs ?? 2000,
    statement_timeout: opts.statementTimeoutMs ?? 5000,
    idleTimeoutMillis: 30_000,
    application_name: 'llm-api',
    ...(opts.password ? { password: opts.password } : {}),
  };
  const pool = new Pool(config);
  // An idle client losing its connection must not crash the process.
  pool.on('error', (err) => opts.onError?.(err));
  return {
    kind: 'postgres',
    query: async (sql, params) => pool.query(sql, params as unknown[]) as never,
    exec: async (sql) => {
      await pool.query(sql);
    },
    withConnection: async (fn) => {
      const client = await pool.connect();
      try {
        return await fn({
          query: async (sql, params) => client.query(sql, params as unknown[]) as never,
          exec: async (sql) => {
            await client.query(sql);
          },
        });
      } finally {
        client.release();
      }
    },
    close: () => pool.end(),
  };
}

/**
 * Embedded PostgreSQL (WASM) for the no-configuration path. Imported lazily: its .wasm/.data files
 * load relative to its own module, so it stays outside the bundle and out of production processes.
 */
export async function createPgliteDb(dataDir: string): Promise<Db> {
  mkdirSync(dataDir, { recursive: true });
  const { PGlite } = await import('@electric-sql/pglite');
  const pg = await PGlite.create(dataDir);
  // PGlite is single-connection; serialise callers of withConnection so a lock holder is alone.
  let chain: Promise<unknown> = Promise.resolve();
  const conn: Pick<Db, 'query' | 'exec'> = {
    query: async (sql, params) => pg.query(sql, params) as never,
    exec: async (sql) => {
      await pg.exec(sql);
    },
  };
  return {
    kind: 'pglite',
    ...conn,
    withConnection: (fn) => {
      const run = chain.then(() => fn(conn));
      chain = run.catch(() => undefined);
      return run;
    },
    close: () => pg.close(),
  };
}
