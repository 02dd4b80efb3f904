/**
 * The process entry point: the only file with process side effects (listening, workers, signals,
 * exit codes). `node dist/server.js [serve|migrate|keys …|teams …]`.
 */
import cluster from 'node:cluster';
import { existsSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import pino, { type Logger } from 'pino';
import { buildApp } from './app';
import { createServices, openDatabase } from './bootstrap';
import { runKeysCommand } from './cli/keys';
import { runTeamsCommand } from './cli/teams';
import { backends, loadConfig, type Config } from './config';
import { createLogger } from './lib/logger';
import { createObservability, serveClusterMetrics } from './observability/observability';
import type { Lifecycle } from './plugins/request-context';
import { createKeyStore } from './stores/keys';
import { createTeamStore } from './stores/teams';
import { migrate } from './stores/migrate';
import type { Db } from './stores/types';

async function withDatabase<T>(config: Config, logger: Logger, fn: (db: Db) => Promise<T>): Promise<T> {
  const db = await openDatabase(config, logger);
  try {
    await migrate(db);
    return await fn(db);
  } finally {
    await db.close();
  }
}

/**
 * V8 lets the old generation grow to as much as 4× the live heap before a full collection, assuming
 * memory is plentiful. A proxy's live heap is small (~30 MB) and what it promotes is short-lived
 * request state, so growth is held to 70 %: with the image's `--max-semi-space-size=8` (app/Dockerfile)
 * RSS under sustained load stays near 125 MB instead of 185+, for more frequent full GCs (in
 * `npm run bench` they double p99 at 32 connections; the throughput cost is within its noise).
 * The flag is read at each GC, so setting it now takes effect; `node --heap-growing-percent=…` wins.
 */
function boundHeapGrowth(): void {
  if (process.execArgv.some((arg) => arg.startsWith('--heap-growing-percent'))) return;
  setFlagsFromString('--heap-growing-percent=70');
}

async function serve(config: Config, logger: Logger): Promise<void> {
  boundHeapGrowth();
  const lifecycle: Lifecycle = { draining: false };
  const observability = createObservability(config, logger, { clusterWorker: cluster.isWorker });
  const services = await createServices(config, logger, lifecycle, observability.storeEvents);
  observability.watchUsageBuffer(services.usageRecorder);
  const app = buildApp({ ...services.deps, instrument: observability.instrument });
  await observability.serveMetrics();
  await app.listen({ port: config.PORT, host: config.HOST });
  logger.info({ port: config.PORT, host: config.HOST, ...backends(config) }, 'llm-api listening');

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    lifecycle.draining = true;
    logger.info({ signal, graceMs: config.SHUTDOWN_GRACE_MS }, 'draining: finishing in-flight requests');
    const force = setTimeout(() => {
      logger.warn('grace period over: closing the remaining connections');
      app.server.closeAllConnections();
    }, config.SHUTDOWN_GRACE_MS);
    force.unref();
    // A keep-alive connection whose last answer has ended would hold close() until the grace
    // period is over: close each one as soon as it goes idle.
    const idle = setInterval(() => app.server.closeIdleConnections(), 100);
    idle.unref();
    try {
      await app.close(); // stops accepting, waits for in-flight requests and streams
    } finally {
      clearTimeout(force);
      clearInterval(idle);
    }
    await services.close(); // flushes usage rows
    await observability.close(); // the last EMF interval
    logger.info('shut down cleanly');
    logger.flush?.();
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
}

/** WORKERS > 1: migrate once, then fork; the primary restarts crashed workers and relays SIGTERM. */
async function servePrimary(config: Config, logger: Logger): Promise<void> {
  await withDatabase(config, logger, async () => undefined);
  await serveClusterMetrics(config, logger);
  let stopping = false;
  const fork = () => cluster.fork();
  for (let i = 0; i < config.WORKERS; i++) fork();
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
      return;
    }
    logger.error({ pid: worker.process.pid, code, signal }, 'worker died; starting another');
    fork();
  });
  const stop = (sig: NodeJS.Signals) => {
    stopping = true;
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill(sig);
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  logger.info({ workers: config.WORKERS }, 'primary started workers');
}

async function main(argv: string[]): Promise<void> {
  if (existsSync('.env')) process.loadEnvFile('.env');
  const config = loadConfig();
  const [command = 'serve', ...args] = argv;
  // Commands print their answer on stdout, so their logs go to stderr.
  const logger = createLogger(config.LOG_LEVEL, command === 'serve' ? undefined : pino.destination({ fd: 2, sync: true }));
  process.on('unhandledRejection', (err) => logger.error({ err }, 'unhandled rejection'));

  switch (command) {
    case 'serve': {
      const embeddedDb = backends(config).database === 'pglite';
      if (config.WORKERS > 1 && embeddedDb) {
        logger.warn('WORKERS > 1 needs DATABASE_URL (the embedded database is single-process): running one process');
      }
      if (config.WORKERS > 1 && !embeddedDb && cluster.isPrimary) return servePrimary(config, logger);
      return serve(config, logger);
    }
    case 'migrate': {
      const db = await openDatabase(config, logger);
      const applied = await migrate(db).finally(() => db.close());
      logger.info({ applied }, applied.length ? 'migrations applied' : 'database already up to date');
      logger.flush?.();
      return;
    }
    case 'keys': {
      const out = await withDatabase(config, logger, (db) => runKeysCommand(createKeyStore({ db }), args));
      process.stdout.write(`${out}\n`);
      return;
    }
    case 'teams': {
      const out = await withDatabase(config, logger, (db) => runTeamsCommand(createTeamStore({ db }), args));
      process.stdout.write(`${out}\n`);
      return;
    }
    default:
      throw new Error(`unknown command '${command}': use serve, migrate, keys or teams`);
  }
}

main(process.argv.slice(2)).catch((err: Error) => {
  process.stderr.write(`${err.message}\n`);
  process.exit(1);
});
