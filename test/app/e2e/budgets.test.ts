/**
 * Dollar budgets end to end: two gateway processes (the bundle) sharing one Postgres and one Redis,
 * streamed chat completions priced from a PRICES_FILE. Budgets must hold across replicas, survive
 * Redis losing their counters, log their thresholds once, and the usage report must match the raw
 * rows exactly.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { createUsageRecorder } from '../../../app/stores/usage-recorder';
import { startFakeUpstream, type FakeUpstream } from '../../support/fake-upstream';
import { startGateway, type GatewayProcess } from '../../support/gateway-process';
import { expectSchema } from '../../support/openapi';
import { createTestDatabase, TEST_REDIS_URL, type TestDatabase } from '../../support/test-db';

const ADMIN_KEY = 'admin-budgets-e2e-secret';
/** $10 input, $100 output per 1M tokens: a 20-token answer costs $0.002, so $0.01 buys a handful. */
const PRICE = { input: 10, output: 100 };
const MODEL = 'budget-model';
const MAX_TOKENS = 20;
const chat = {
  model: MODEL,
  messages: [{ role: 'user' as const, content: 'Tell me a long story about budgets and replicas' }],
  max_tokens: MAX_TOKENS,
  stream: true,
};

let up: FakeUpstream;
let db: TestDatabase;
let redis: Redis;
let a: GatewayProcess;
let b: GatewayProcess;

async function admin(method: string, path: string, body?: unknown) {
  const res = await fetch(`${a.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, text, json: res.headers.get('content-type')?.includes('json') ? (JSON.parse(text) as Record<string, any>) : undefined };
}

async function createKey(body: Record<string, unknown>): Promise<{ id: string; key: string }> {
  const res = await admin('POST', '/admin/keys', { name: 'k', ...body });
  expect(res.status).toBe(201);
  return res.json as { id: string; key: string };
}

/** A streamed chat completion read to its end. */
async function stream(gw: GatewayProcess, key: string) {
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(chat),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text };
}

/** The largest reservation one request of `chat` makes, from the recorded prompt size. */
function maxReservation(promptTokens: number): number {
  return (promptTokens * PRICE.input + MAX_TOKENS * PRICE.output) / 1e6;
}

/** Waits until `n` rows of the key (or team) are written, then sums their cost and prompt size. */
async function recorded(column: 'key_id' | 'team_id', id: string, n: number) {
  for (let i = 0; ; i++) {
    const { rows } = await db.db.query<{ n: string; cost: string; prompt: string }>(
      `SELECT count(*)::text AS n, coalesce(sum(cost_usd), 0)::text AS cost, coalesce(max(prompt_tokens), 0)::text AS prompt
         FROM usage_records WHERE ${column} = $1 AND status = 200`,
      [id],
    );
    if (Number(rows[0].n) >= n || i > 100) return { rows: Number(rows[0].n), cost: Number(rows[0].cost), prompt: Number(rows[0].prompt) };
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Fires `n` streamed requests at once, alternating gateways and keys. */
async function burst(n: number, keys: string[]) {
  return Promise.all(Array.from({ length: n }, (_, i) => stream(i % 2 ? a : b, keys[i % keys.length])));
}

function expectRefusals(results: Array<{ status: number; text: string; headers: Headers }>) {
  const refused = results.filter((r) => r.status === 429);
  expect(refused.length).toBeGreaterThan(0);
  for (const r of refused) {
    const body = JSON.parse(r.text);
    expectSchema('ErrorResponse', body);
    expect(body.error).toMatchObject({ type: 'insufficient_quota', code: 'insufficient_quota' });
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  }
  expect(results.every((r) => r.status === 200 || r.status === 429)).toBe(true);
}

beforeAll(async () => {
  up = await startFakeUpstream();
  db = await createTestDatabase();
  redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 0 });
  const dir = mkdtempSync(join(tmpdir(), 'budgets-e2e-'));
  const prices = join(dir, 'prices.yaml');
  writeFileSync(prices, `${MODEL}:\n  input: ${PRICE.input}\n  output: ${PRICE.output}\n`);
  const env = {
    DATABASE_URL: db.url,
    REDIS_URL: TEST_REDIS_URL,
    OPENAI_BASE_URL: up.url,
    OPENAI_API_KEY: 'sk-upstream-budgets',
    ADMIN_API_KEY: ADMIN_KEY,
    PRICES_FILE: prices,
    DEFAULT_RPM: '100000',
    DEFAULT_TPM: '100000000',
    // This box is shared and small: a cold burst of 50 streams can hold a reply past the default
    // 100 ms and send the limiter to its per-process fallback. The budgets under test are Redis's.
    REDIS_COMMAND_TIMEOUT_MS: '1000',
  };
  [a, b] = await Promise.all([startGateway({ env }), startGateway({ env })]);
  // Warm both (JIT, pools, the Lua script) with a key of its own.
  const warm = await createKey({});
  await Promise.all(Array.from({ length: 20 }, (_, i) => stream(i % 2 ? a : b, warm.key)));
}, 60_000);

afterEach(() => {
  // Every decision above must have come from Redis: a fallback decision holds per process only.
  const fellBack = [...(a?.lines ?? []), ...(b?.lines ?? [])].filter((l) => l.includes('rate limits served in process'));
  expect(fellBack).toEqual([]);
});

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await up?.close();
  await redis?.quit();
  await db?.drop();
});

describe('dollar budgets across two replicas', () => {
  it('a key with a $0.01 daily budget: 50 concurrent streams never spend more than the budget plus one reservation', async () => {
    const { id, key } = await createKey({ daily_budget_usd: 0.01 });
    const results = await burst(50, [key]);
    const served = results.filter((r) => r.status === 200).length;
    expect(served).toBeGreaterThan(0);
    expectRefusals(results);
    const spent = await recorded('key_id', id, served);
    expect(spent.rows).toBe(served);
    expect(spent.cost).toBeGreaterThan(0);
    expect(spent.cost).toBeLessThanOrEqual(0.01 + maxReservation(spent.prompt));
    // The refusal names the budget and its reset (next UTC midnight).
    const message = JSON.parse(results.find((r) => r.status === 429)!.text).error.message as string;
    expect(message).toMatch(/daily budget of \$0\.01 for key [0-9a-f-]{36}\./);
    const midnight = new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate() + 1));
    expect(message).toContain(`resets at ${midnight.toISOString()}`);
  });

  it('a team budget shared by two keys holds the same way, and its 80 % crossing is logged once', async () => {
    const team = (await admin('POST', '/admin/teams', { name: 'shared', daily_budget_usd: 0.01 })).json!;
    const k1 = await createKey({ team_id: team.id });
    const k2 = await createKey({ team_id: team.id });
    const results = await burst(50, [k1.key, k2.key]);
    const served = results.filter((r) => r.status === 200).length;
    expect(served).toBeGreaterThan(0);
    expectRefusals(results);
    expect(JSON.parse(results.find((r) => r.status === 429)!.text).error.message).toMatch(/for team 'shared'/);
    const spent = await recorded('team_id', team.id, served);
    expect(spent.cost).toBeLessThanOrEqual(0.01 + maxReservation(spent.prompt));

    // Settles reach Redis within ~100 ms; then exactly one replica has logged each crossing.
    if (spent.cost >= 0.008) {
      let lines: Array<Record<string, unknown>> = [];
      for (let i = 0; i < 50 && lines.length === 0; i++) {
        await new Promise((r) => setTimeout(r, 100));
        lines = [...a.logs(), ...b.logs()].filter((l) => l.event === 'budget_threshold' && l.id === team.id && l.percent === 80);
      }
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({ event: 'budget_threshold', scope: 'team', id: team.id, period: 'day', percent: 80, budget_usd: 0.01 });
      expect(lines[0].spent_usd).toBeGreaterThanOrEqual(0.008);
    }
  });

  it('re-seeds a monthly budget from Postgres after Redis lost its counters, and the budget still holds', async () => {
    const { id, key } = await createKey({ monthly_budget_usd: 0.01 });
    // Spend part of the month, one at a time.
    for (let i = 0; i < 2; i++) expect((await stream(a, key)).status).toBe(200);
    const before = await recorded('key_id', id, 2);
    // Redis loses everything of this key (a flush, a failover to an empty replica): only our own keys go.
    await new Promise((r) => setTimeout(r, 300)); // the settles are written
    const lost = await redis.keys(`llmapi:rl:{k:${id}}:*`);
    expect(lost.length).toBeGreaterThan(0);
    await redis.del(...lost);

    const results = await burst(50, [key]);
    const served = results.filter((r) => r.status === 200).length;
    expectRefusals(results);
    const after = await recorded('key_id', id, 2 + served);
    expect(after.cost).toBeLessThanOrEqual(0.01 + maxReservation(after.prompt));
    expect(after.cost).toBeGreaterThan(before.cost);
    // The re-seeded counter started from what Postgres held, not from zero.
    const month = new Date().toISOString().slice(0, 7);
    const counter = await redis.hget(`llmapi:rl:{k:${id}}:usd:k:${id}:${month}`, 'spent');
    expect(Number(counter)).toBeGreaterThanOrEqual(Math.round(before.cost * 1e6));
  });
});

describe('usage report', () => {
  it('/admin/usage?group_by=team&format=csv matches the raw rows exactly on a generated data set', async () => {
    const teams = [randomUUID(), randomUUID(), randomUUID(), null];
    const keys = Array.from({ length: 12 }, (_, i) => ({ id: randomUUID(), team: teams[i % teams.length] }));
    const models = ['gpt-4o', 'claude-sonnet-4-5', 'local'];
    const recorder = createUsageRecorder({ db: db.db, onError: (e) => { throw e; }, onDropped: () => undefined, maxBatch: 500 });
    let seed = 42;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 3000; i++) {
      const k = keys[Math.floor(rand() * keys.length)];
      const model = models[Math.floor(rand() * models.length)];
      recorder.record({
        keyId: k.id,
        teamId: k.team,
        model,
        promptTokens: Math.floor(rand() * 5000),
        completionTokens: Math.floor(rand() * 2000),
        cachedInputTokens: Math.floor(rand() * 100),
        cacheWriteTokens: Math.floor(rand() * 50),
        reasoningTokens: Math.floor(rand() * 300),
        costUsd: model === 'local' ? null : Math.round(rand() * 1e8) / 1e10,
        estimated: rand() < 0.1,
        cached: rand() < 0.2,
        status: 200,
        upstreamMs: 1,
        totalMs: 1,
        requestId: randomUUID(),
        // March 2030, away from the requests the other tests make.
        createdAt: new Date(Date.UTC(2030, 2, 1) + Math.floor(rand() * 31 * 86_400_000)),
      });
    }
    await recorder.close();

    const res = await admin('GET', '/admin/usage?group_by=team&format=csv&since=2030-03-01&until=2030-04-01');
    expect(res.status).toBe(200);
    const { rows } = await db.db.query<Record<string, string | null>>(
      `SELECT team_id::text, count(*)::text AS requests, sum(prompt_tokens)::text AS prompt_tokens,
              sum(completion_tokens)::text AS completion_tokens, sum(prompt_tokens + completion_tokens)::text AS total_tokens,
              count(*) FILTER (WHERE cached)::text AS cached_requests, sum(cached_input_tokens)::text AS cached_input_tokens,
              sum(cache_write_tokens)::text AS cache_write_tokens, sum(reasoning_tokens)::text AS reasoning_tokens,
              trim_scale(coalesce(sum(cost_usd), 0))::text AS cost_usd, count(*) FILTER (WHERE cost_usd IS NULL)::text AS unpriced_requests
         FROM usage_records
        WHERE created_at >= '2030-03-01' AND created_at < '2030-04-01'
        GROUP BY team_id ORDER BY team_id NULLS FIRST`,
    );
    const expected = [
      'team_id,requests,prompt_tokens,completion_tokens,total_tokens,cached_requests,cached_input_tokens,cache_write_tokens,reasoning_tokens,cost_usd,unpriced_requests',
      ...rows.map((r) => Object.values(r).map((v) => v ?? '').join(',')),
      '',
    ].join('\r\n');
    expect(res.text).toBe(expected);
    expect(rows).toHaveLength(4);
  });
});
