/**
 * `npm run bench:limits`: what the rate limiter (Redis, one Lua script per request plus the
 * reconcile) and the usage path (buffered rows, batched INSERTs into Postgres) add per request.
 *
 * One process serves two copies of the same app, built from the same services: `on` exactly as
 * production wires it, `off` with a chat service whose limiter and usage recorder do nothing. The
 * fake upstream and the load generator run in processes of their own; rounds alternate between the
 * two so machine noise hits both alike. Load only goes to 127.0.0.1, bounded in time.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Client } from 'pg';
import { startLoadGenerator, type LoadResult } from './measure';

// The service imports its migrations as text (esbuild's `.sql` loader); do the same here.
(require as unknown as { extensions: Record<string, (m: { exports: unknown }, f: string) => void> }).extensions['.sql'] = (
  m,
  filename,
) => {
  m.exports = { __esModule: true, default: readFileSync(filename, 'utf8') };
};

/* eslint-disable @typescript-eslint/no-require-imports */
const { buildApp } = require('../app/app') as typeof import('../app/app');
const { createServices } = require('../app/bootstrap') as typeof import('../app/bootstrap');
const { loadConfig } = require('../app/config') as typeof import('../app/config');
const { createLogger } = require('../app/lib/logger') as typeof import('../app/lib/logger');
const { createPipeline } = require('../app/pipeline/pipeline') as typeof import('../app/pipeline/pipeline');
const { createScrubber } = require('../app/security/scrub') as typeof import('../app/security/scrub');
const { createMemoryCache } = require('../app/stores/cache-memory') as typeof import('../app/stores/cache-memory');

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const POSTGRES_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

async function startUpstream(): Promise<{ url: string; stop(): void }> {
  const child = spawn(process.execPath, ['--import', 'tsx', resolve(__dirname, '../test/support/fake-upstream.ts')], {
    env: { ...process.env, PORT: '0' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((res, rej) => {
    child.stdout!.on('data', (b: Buffer) => {
      const m = /(http:\/\/127\.0\.0\.1:\d+\/v1)/.exec(b.toString());
      if (m) res(m[1]);
    });
    child.once('exit', (code) => rej(new Error(`fake upstream exited with ${code}`)));
  });
  return { url, stop: () => child.kill() };
}

async function main() {
  const dbName = `llmapi_bench_${randomBytes(4).toString('hex')}`;
  const admin = new Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const dbUrl = new URL(POSTGRES_URL);
  dbUrl.pathname = `/${dbName}`;
  const upstream = await startUpstream();
  const loader = startLoadGenerator();

  const config = loadConfig({
    DATABASE_URL: dbUrl.toString(),
    REDIS_URL,
    OPENAI_BASE_URL: upstream.url,
    OPENAI_API_KEY: 'sk-bench',
    LOG_LEVEL: 'warn',
  });
  const logger = createLogger('warn');
  const services = await createServices(config, logger, { draining: false });
  const { key } = await services.deps.keys.create({ name: 'bench', rpm: 2_000_000_000, tpm: 2_000_000_000 });

  const allowAll = {
    allowed: true,
    limitRequests: 0,
    remainingRequests: 0,
    resetRequestsMs: 0,
    limitTokens: 0,
    remainingTokens: 0,
    resetTokensMs: 0,
    retryAfterMs: 0,
  };
  // The same pipeline and router, with the limiter allowing everything and usage rows dropped.
  const offPipeline = createPipeline({
    router: services.deps.router,
    owners: services.deps.owners,
    defaultCompletionReserve: 1024,
    scrubber: createScrubber({ secrets: [] }),
    onBackgroundError: () => undefined,
    limiter: {
      check: async () => allowAll,
      reconcile: async () => undefined,
      ping: async () => undefined,
      close: async () => undefined,
    },
    cache: createMemoryCache({ maxEntryBytes: config.CACHE_MAX_ENTRY_BYTES }),
    usage: { record: () => undefined },
    limits: { rpm: config.DEFAULT_RPM, tpm: config.DEFAULT_TPM },
    cacheTtlSeconds: config.CACHE_TTL_SECONDS,
  });
  const on = buildApp(services.deps);
  const off = buildApp({ ...services.deps, pipeline: offPipeline });
  const onUrl = await on.listen({ port: 0, host: '127.0.0.1' });
  const offUrl = await off.listen({ port: 0, host: '127.0.0.1' });

  const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello' }] });
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
  const run = (url: string, connections: number): Promise<LoadResult> =>
    loader.load({ url: `${url}/v1/chat/completions`, headers, body, connections, seconds: SECONDS });

  // Warm both: JIT, pools, the key cache, the Lua script.
  await run(onUrl, 8);
  await run(offUrl, 8);

  const results: Record<'on' | 'off', { c1: LoadResult[]; c32: LoadResult[] }> = {
    on: { c1: [], c32: [] },
    off: { c1: [], c32: [] },
  };
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, url] of round % 2 ? ([['off', offUrl], ['on', onUrl]] as const) : ([['on', onUrl], ['off', offUrl]] as const)) {
      results[name].c1.push(await run(url, 1));
      results[name].c32.push(await run(url, 32));
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const pick = (name: 'on' | 'off') => ({
    p50c1: median(results[name].c1.map((r) => r.p50Us)),
    p99c1: median(results[name].c1.map((r) => r.p99Us)),
    p50c32: median(results[name].c32.map((r) => r.p50Us)),
    rps32: median(results[name].c32.map((r) => r.rps)),
    failures: [...results[name].c1, ...results[name].c32].reduce((s, r) => s + r.failures, 0),
  });
  const a = pick('on');
  const b = pick('off');
  await services.usageRecorder.flush();
  const rows = await services.db.query<{ n: string }>('SELECT count(*)::text AS n FROM usage_records');

  const fmt = (n: number) => n.toFixed(0).padStart(8);
  console.log('\nlimiter + usage path, side by side (median of rounds; µs, requests/s)\n');
  console.log('                        on        off     added');
  console.log(`p50 @1 connection  ${fmt(a.p50c1)}  ${fmt(b.p50c1)}  ${fmt(a.p50c1 - b.p50c1)} µs`);
  console.log(`p99 @1 connection  ${fmt(a.p99c1)}  ${fmt(b.p99c1)}  ${fmt(a.p99c1 - b.p99c1)} µs`);
  console.log(`p50 @32            ${fmt(a.p50c32)}  ${fmt(b.p50c32)}  ${fmt(a.p50c32 - b.p50c32)} µs`);
  console.log(`req/s @32          ${fmt(a.rps32)}  ${fmt(b.rps32)}  ${((a.rps32 / b.rps32) * 100).toFixed(1).padStart(7)} % of off`);
  console.log(`failures           ${fmt(a.failures)}  ${fmt(b.failures)}`);
  console.log(`usage rows written by 'on': ${rows.rows[0].n}\n`);

  await Promise.all([on.close(), off.close()]);
  await services.close();
  loader.close();
  upstream.stop();
  await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  await admin.end();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
