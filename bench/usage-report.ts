/**
 * `npm run bench:usage`: does the usage report scale, and do dollar budgets cost a Redis round trip?
 *
 * 1. Fills a fresh database with BENCH_USAGE_ROWS raw usage rows (default 10 million: 2,000 keys in
 *    50 teams, 8 models, 90 days), builds the daily rollup exactly as the recorder's upserts would,
 *    pushes a slice through the real recorder, then times GET /admin/usage's queries for one team's
 *    month against the 1 s target, checks them against a scan of the raw rows, and times that scan.
 * 2. Runs limiter checks of a key with every limit set (its own rpm, tpm, token budget and dollar
 *    budgets, and its team's rpm, tpm and dollar budgets), each settled, and counts the commands the
 *    limiter's Redis client sends per request: one EVALSHA, however many limits.
 *
 * Not a test: it prints figures and PASS/MISS. Only its own database and Redis keys are touched.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Redis from 'ioredis';
import { Client } from 'pg';

// The service imports its migrations as text (esbuild's `.sql` loader); do the same here.
(require as unknown as { extensions: Record<string, (m: { exports: unknown }, f: string) => void> }).extensions['.sql'] = (
  m,
  filename,
) => {
  m.exports = { __esModule: true, default: readFileSync(filename, 'utf8') };
};
/* eslint-disable @typescript-eslint/no-require-imports */
const { createPostgresDb } = require('../app/stores/db') as typeof import('../app/stores/db');
const { migrate } = require('../app/stores/migrate') as typeof import('../app/stores/migrate');
const { createUsageQuery } = require('../app/stores/usage-query') as typeof import('../app/stores/usage-query');
const { createUsageRecorder } = require('../app/stores/usage-recorder') as typeof import('../app/stores/usage-recorder');
const { createRedisLimiter } = require('../app/stores/limiter-redis') as typeof import('../app/stores/limiter-redis');

const ROWS = Number(process.env.BENCH_USAGE_ROWS ?? 10_000_000);
const CHUNK = 1_000_000;
const KEYS = 2000;
const TEAMS = 50;
const MODELS = ['gpt-4o', 'gpt-4o-mini', 'o3', 'gpt-4.1', 'claude-sonnet-4-5', 'claude-haiku-4-5', 'nova-pro', 'llama-local'];
const DAYS = 90;
const START = Date.UTC(2030, 0, 1);
const TARGET_MS = 1000;
const POSTGRES_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = process.hrtime.bigint();
  const out = await fn();
  return [out, ms(t0)];
}

async function reportScaling(url: string): Promise<boolean> {
  // As the service connects (its 5 s statement timeout applies to the measured queries)…
  const db = createPostgresDb({ connectionString: url, max: 4 });
  // …and a connection without one for filling the table.
  const filler = createPostgresDb({ connectionString: url, max: 1, statementTimeoutMs: 0 });
  try {
    await migrate(db);
    const keys = Array.from({ length: KEYS }, () => randomUUID());
    const teams = Array.from({ length: TEAMS }, () => randomUUID());
    // Key i belongs to team i % TEAMS, except every tenth key, which has no team.
    const keyTeams = keys.map((_, i) => (i % 10 === 0 ? null : teams[i % TEAMS]));

    console.log(`generating ${ROWS.toLocaleString()} raw rows (${KEYS} keys, ${TEAMS} teams, ${MODELS.length} models, ${DAYS} days)…`);
    const [, genMs] = await timed(async () => {
      for (let from = 0; from < ROWS; from += CHUNK) {
        const n = Math.min(CHUNK, ROWS - from);
        await filler.query(
          `INSERT INTO usage_records (key_id, team_id, model, prompt_tokens, completion_tokens, cached_input_tokens,
                                      reasoning_tokens, cached, status, upstream_ms, total_ms, request_id, created_at, cost_usd, surface)
           SELECT ($1::uuid[])[1 + k], ($2::uuid[])[1 + k], ($3::text[])[1 + (g / 7 % $4)],
                  100 + (g % 900), 10 + (g % 300), (g % 7) * 10, (g % 5) * 3, g % 17 = 0, 200, 300, 320,
                  'bench-' || g, to_timestamp($5::float8 / 1000 + (g::float8 / $6) * $7 * 86400),
                  CASE WHEN ($3::text[])[1 + (g / 7 % $4)] = 'llama-local' THEN NULL ELSE ((g % 1000) / 100000.0)::numeric END, 'chat'
             FROM generate_series($8::bigint, $9::bigint) AS g, LATERAL (SELECT (g * 7919 % $10)::int AS k) AS pick`,
          [keys, keyTeams, MODELS, MODELS.length, START, ROWS, DAYS, from, from + n - 1, KEYS],
        );
        process.stdout.write(`  ${(from + n).toLocaleString()} rows\n`);
      }
      // What the recorder's per-batch upserts add up to, built in one pass for the generated rows.
      await filler.query(
        `INSERT INTO usage_daily (day, key_id, team_id, model, requests, cached_requests, unpriced_requests, prompt_tokens,
                                  completion_tokens, cached_input_tokens, cache_write_tokens, reasoning_tokens, cost_usd)
         SELECT (created_at AT TIME ZONE 'UTC')::date, key_id, team_id, model, count(*), count(*) FILTER (WHERE cached),
                count(*) FILTER (WHERE cost_usd IS NULL), sum(prompt_tokens), sum(completion_tokens), sum(cached_input_tokens),
                sum(cache_write_tokens), sum(reasoning_tokens), coalesce(sum(cost_usd), 0)
           FROM usage_records GROUP BY 1, 2, 3, 4`,
      );
      await filler.query('ANALYZE usage_records');
      await filler.query('ANALYZE usage_daily');
    });
    const rollupRows = Number((await db.query<{ n: string }>('SELECT count(*)::text AS n FROM usage_daily')).rows[0].n);
    console.log(`generated in ${(genMs / 1000).toFixed(0)} s; rollup: ${rollupRows.toLocaleString()} rows`);

    // The write path as the service runs it: raw rows and rollup upserts in one statement per batch.
    const team = teams[3];
    const teamKeys = keys.filter((_, i) => keyTeams[i] === team);
    const recorder = createUsageRecorder({ db, onError: (e) => { throw e; }, onDropped: () => undefined, flushIntervalMs: 60_000 });
    const written = 20_000;
    const [, writeMs] = await timed(async () => {
      for (let i = 0; i < written; i++) {
        recorder.record({
          keyId: teamKeys[i % teamKeys.length], teamId: team, model: MODELS[i % MODELS.length], promptTokens: 120,
          completionTokens: 40, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0, costUsd: 0.00123, estimated: false,
          cached: false, status: 200, upstreamMs: 300, totalMs: 320, requestId: `bench-rec-${i}`,
          createdAt: new Date(Date.UTC(2030, 1, 1 + (i % 28), 12)),
        });
      }
      await recorder.close();
    });
    console.log(`recorder: ${written.toLocaleString()} rows (with rollup upserts) in ${writeMs.toFixed(0)} ms, ${(writeMs / (written / 500)).toFixed(1)} ms per 500-row batch`);

    // One team's month, as GET /admin/usage?team_id=…&since=2030-02-01&until=2030-03-01[&group_by=…] asks.
    const query = createUsageQuery({ db });
    const filter = { teamId: team, since: new Date('2030-02-01'), until: new Date('2030-03-01') };
    const runs: Record<string, number[]> = { summary: [], 'group_by=key': [], 'group_by=day': [], 'group_by=model': [] };
    let summary: Awaited<ReturnType<typeof query.summary>> | undefined;
    for (let i = 0; i < 5; i++) {
      const [s, t] = await timed(() => query.summary(filter));
      summary = s;
      runs.summary.push(t);
      runs['group_by=key'].push((await timed(() => query.grouped(filter, 'key')))[1]);
      runs['group_by=day'].push((await timed(() => query.grouped(filter, 'day')))[1]);
      runs['group_by=model'].push((await timed(() => query.grouped(filter, 'model')))[1]);
    }
    // The same answer from the raw rows: what the report would cost without the rollup, and a check.
    const [raw, rawMs] = await timed(() =>
      filler.query<{ requests: string; prompt: string; cost: string }>(
        `SELECT count(*)::text AS requests, sum(prompt_tokens)::text AS prompt, trim_scale(sum(cost_usd))::text AS cost
           FROM usage_records WHERE team_id = $1 AND created_at >= '2030-02-01' AND created_at < '2030-03-01'`,
        [team],
      ),
    );
    const exact =
      Number(raw.rows[0].requests) === summary!.requests &&
      Number(raw.rows[0].prompt) === summary!.prompt_tokens &&
      Math.abs(Number(raw.rows[0].cost) - summary!.cost_usd) < 1e-9;

    console.log(`\none team's month (${summary!.requests.toLocaleString()} requests, $${summary!.cost_usd.toFixed(2)}), from the rollup:`);
    let pass = true;
    for (const [name, times] of Object.entries(runs)) {
      const worst = Math.max(...times);
      pass &&= worst < TARGET_MS;
      console.log(`  ${name.padEnd(16)} median ${median(times).toFixed(1).padStart(7)} ms   worst ${worst.toFixed(1).padStart(7)} ms`);
    }
    console.log(`  raw-row scan     ${rawMs.toFixed(1).padStart(14)} ms   (for comparison)`);
    console.log(`  rollup equals the raw rows: ${exact ? 'yes' : 'NO'}`);
    console.log(`  target < ${TARGET_MS} ms: ${pass && exact ? 'PASS' : 'MISS'}`);
    return pass && exact;
  } finally {
    await Promise.all([db.close(), filler.close()]);
  }
}

async function commandsPerCheck(): Promise<boolean> {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 0 });
  const prefix = `bench:rl:${randomBytes(4).toString('hex')}:`;
  try {
    const limiter = createRedisLimiter({ redis, prefix, loadUsage: async () => 0, reconcileFlushMs: 60_000 });
    const team = { id: randomUUID(), rpm: 1e9, tpm: 1e9, dailyBudgetUsd: 1e6, monthlyBudgetUsd: 1e6 };
    const check = {
      keyId: randomUUID(), rpm: 1e9, tpm: 1e9, budget: 1e12, tokens: 500, costUsd: 0.01,
      dailyBudgetUsd: 1e5, monthlyBudgetUsd: 1e5, team,
    };
    // First check seeds the five counters (a miss, then the seeded call): not counted.
    await limiter.check(check);
    // Every command this client sends goes through sendCommand (the Redis is shared: its own
    // counters would count other clients too).
    let sent = 0;
    const send = redis.sendCommand.bind(redis);
    redis.sendCommand = ((...args: Parameters<typeof send>) => {
      sent++;
      return send(...args);
    }) as typeof redis.sendCommand;
    const n = 1000;
    for (let i = 0; i < n; i++) {
      const d = await limiter.check(check);
      await limiter.reconcile({ check, periods: d.periods, tokens: 300, costUsd: 0.004 });
    }
    const perCheck = sent / n;
    await limiter.close();
    console.log(`\nRedis commands per request with 4 rate limits and 5 budgets (check + settle): ${perCheck.toFixed(2)}`);
    console.log(`  target 1 (the settle rides on the next check): ${perCheck <= 1 ? 'PASS' : 'MISS'}`);
    return perCheck <= 1;
  } finally {
    const mine = await redis.keys(`${prefix}*`);
    if (mine.length) await redis.del(...mine);
    await redis.quit();
  }
}

async function main() {
  const name = `llmapi_bench_usage_${randomBytes(4).toString('hex')}`;
  const admin = new Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  try {
    const report = await reportScaling(url.toString());
    const redis = await commandsPerCheck();
    process.exitCode = report && redis ? 0 : 1;
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
