import { mkdirSync } from 'node:fs';
import { Pool, type PoolConfig } from 'pg';
import type { Db } from './types';

export interface PostgresOptions {
  /** Connection string; when absent, node-postgres reads PGHOST, PGUSER, PGPASSWORD, … */
  connectionString?: string;
  max?: number;
  /** Bounds every statement so a stalled database cannot hold a request forever. */
  statementTimeoutMs?: number;
  connectionTimeoutMs?: number;
  onError?: (err: Error) => void;
}

export function createPostgresDb(opts: PostgresOptions): Db {
  const config: PoolConfig = {
    connectionString: opts.connectionString,
    max: opts.max ?? 10,
    connectionTimeoutMillis: opts.connectionTimeoutMs ?? 2000,
    statement_timeout: opts.statementTimeoutMs ?? 5000,
    idleTimeoutMillis: 30_000,
    application_name: 'llm-api',
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
