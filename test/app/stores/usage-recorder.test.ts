import { randomUUID } from 'node:crypto';
import { createPostgresDb } from '../../../app/stores/db';
import { createUsageRecorder } from '../../../app/stores/usage-recorder';
import type { Db, UsageRecord } from '../../../app/stores/types';
import { createTestDatabase, type TestDatabase } from '../../support/test-db';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(() => t.drop());

const row = (keyId: string, over: Partial<UsageRecord> = {}): UsageRecord => ({
  keyId,
  model: 'gpt-4o-mini',
  promptTokens: 10,
  completionTokens: 5,
  cached: false,
  status: 200,
  upstreamMs: 120,
  totalMs: 130,
  requestId: randomUUID(),
  createdAt: new Date(),
  teamId: null,
  cachedInputTokens: 0,
  cacheWriteTokens: 0,
  reasoningTokens: 0,
  costUsd: 0.0001,
  estimated: false,
  ...over,
});

async function countRows(keyId: string): Promise<number> {
  const { rows } = await t.db.query<{ n: string }>('SELECT count(*) AS n FROM usage_records WHERE key_id = $1', [keyId]);
  return Number(rows[0].n);
}

async function requestIds(keyId: string): Promise<string[]> {
  const sql = 'SELECT request_id FROM usage_records WHERE key_id = $1 ORDER BY id';
  const { rows } = await t.db.query<{ request_id: string }>(sql, [keyId]);
  return rows.map((r) => r.request_id);
}

/** The real database behind a switch, counting the INSERTs that reach it. */
function switchableDb(initial: Pick<Db, 'query'>) {
  const state = { target: initial, inserts: 0 };
  const db: Pick<Db, 'query'> = {
    query: (sql, params) => {
      if (/^\s*(WITH r AS|INSERT)/i.test(sql)) state.inserts++;
      return state.target.query(sql, params);
    },
  };
  return { db, state };
}

const quiet = { onError: () => undefined, onDropped: () => undefined, flushIntervalMs: 60_000 };

describe('usage recorder', () => {
  it('writes N rows in ceil(N / maxBatch) statements, with every field', async () => {
    const { db, state } = switchableDb(t.db);
    const recorder = createUsageRecorder({ ...quiet, db, maxBatch: 100 });
    const keyId = randomUUID();
    const at = new Date('2031-01-02T03:04:05.678Z');
    recorder.record(row(keyId, { cached: true, status: 429, createdAt: at, requestId: 'req-first' }));
    for (let i = 1; i < 250; i++) recorder.record(row(keyId));
    await recorder.close();
    expect(state.inserts).toBe(3);
    expect(recorder.depth()).toBe(0);
    expect(await countRows(keyId)).toBe(250);
    const { rows } = await t.db.query<Record<string, unknown>>("SELECT * FROM usage_records WHERE request_id = 'req-first'");
    expect(rows[0]).toMatchObject({
      key_id: keyId,
      model: 'gpt-4o-mini',
      prompt_tokens: 10,
      completion_tokens: 5,
      cached: true,
      status: 429,
      upstream_ms: 120,
      total_ms: 130,
    });
    expect((rows[0].created_at as Date).toISOString()).toBe(at.toISOString());
  });

  it('writes the cost detail, and the daily rollup from the same rows (per UTC day, key, team, model)', async () => {
    const recorder = createUsageRecorder({ ...quiet, db: t.db });
    const keyId = randomUUID();
    const teamId = randomUUID();
    const detail = {
      teamId,
      cachedInputTokens: 4,
      cacheWriteTokens: 3,
      reasoningTokens: 2,
      costUsd: 0.0123456789,
      estimated: true,
      provider: 'bedrock',
      deployment: 'us.anthropic.claude-sonnet-4-5-20250929-v1:0',
      surface: 'messages',
    };
    recorder.record(row(keyId, { ...detail, requestId: 'req-detail', createdAt: new Date('2031-05-01T23:59:59.999Z') }));
    recorder.record(row(keyId, { teamId, costUsd: 0.5, cached: true, createdAt: new Date('2031-05-01T00:00:00Z') }));
    recorder.record(row(keyId, { teamId, costUsd: null, model: 'local-llama', createdAt: new Date('2031-05-01T12:00:00Z') }));
    recorder.record(row(keyId, { costUsd: 1, createdAt: new Date('2031-05-02T00:00:00Z') })); // next day, no team
    await recorder.flush();
    // A second batch adds to the same rollup rows.
    recorder.record(row(keyId, { teamId, costUsd: 0.25, reasoningTokens: 1, createdAt: new Date('2031-05-01T08:00:00Z') }));
    await recorder.close();

    const { rows } = await t.db.query<Record<string, unknown>>("SELECT * FROM usage_records WHERE request_id = 'req-detail'");
    expect(rows[0]).toMatchObject({
      team_id: teamId,
      cached_input_tokens: 4,
      cache_write_tokens: 3,
      reasoning_tokens: 2,
      cost_usd: '0.0123456789',
      estimated: true,
      provider: 'bedrock',
      deployment: 'us.anthropic.claude-sonnet-4-5-20250929-v1:0',
      surface: 'messages',
    });
    const rollup = await t.db.query<Record<string, unknown>>(
      `SELECT to_char(day, 'YYYY-MM-DD') AS day, team_id, model, requests::int, cached_requests::int, unpriced_requests::int,
              prompt_tokens::int, reasoning_tokens::int, cost_usd::text
         FROM usage_daily WHERE key_id = $1 ORDER BY day, model`,
      [keyId],
    );
    expect(rollup.rows).toEqual([
      { day: '2031-05-01', team_id: teamId, model: 'gpt-4o-mini', requests: 3, cached_requests: 1, unpriced_requests: 0, prompt_tokens: 30, reasoning_tokens: 3, cost_usd: '0.7623456789' },
      { day: '2031-05-01', team_id: teamId, model: 'local-llama', requests: 1, cached_requests: 0, unpriced_requests: 1, prompt_tokens: 10, reasoning_tokens: 0, cost_usd: '0.0000000000' },
      { day: '2031-05-02', team_id: null, model: 'gpt-4o-mini', requests: 1, cached_requests: 0, unpriced_requests: 0, prompt_tokens: 10, reasoning_tokens: 0, cost_usd: '1.0000000000' },
    ]);
  });

  it('reads rows written before the cost columns existed: defaults, cost unknown', async () => {
    const keyId = randomUUID();
    await t.db.query(
      `INSERT INTO usage_records (key_id, model, prompt_tokens, completion_tokens, status, request_id, created_at)
       VALUES ($1, 'gpt-4o', 1, 1, 200, 'old', now())`,
      [keyId],
    );
    const { rows } = await t.db.query<Record<string, unknown>>('SELECT * FROM usage_records WHERE key_id = $1', [keyId]);
    expect(rows[0]).toMatchObject({ team_id: null, cached_input_tokens: 0, reasoning_tokens: 0, cost_usd: null, estimated: false });
  });

  it('flushes on its own timer and when a batch fills', async () => {
    const timed = createUsageRecorder({ ...quiet, db: t.db, flushIntervalMs: 50 });
    const a = randomUUID();
    timed.record(row(a));
    await waitFor(async () => (await countRows(a)) === 1);
    await timed.close();

    const full = createUsageRecorder({ ...quiet, db: t.db, maxBatch: 3 });
    const b = randomUUID();
    for (let i = 0; i < 3; i++) full.record(row(b));
    await waitFor(async () => (await countRows(b)) === 3);
    await full.close();
  });

  it('keeps rows while Postgres is unreachable and writes them all once it is back', async () => {
    const down = createPostgresDb({ connectionString: 'postgres://postgres@127.0.0.1:1/none', connectionTimeoutMs: 200 });
    const { db, state } = switchableDb(down);
    const errors: unknown[] = [];
    const recorder = createUsageRecorder({ ...quiet, db, maxBatch: 10, onError: (e) => errors.push(e) });
    const keyId = randomUUID();
    for (let i = 0; i < 25; i++) recorder.record(row(keyId, { requestId: `r${i}` }));
    await recorder.flush();
    expect(errors.length).toBeGreaterThan(0);
    expect(recorder.depth()).toBe(25);
    // Rows recorded while down join the queue behind the kept ones.
    for (let i = 25; i < 30; i++) recorder.record(row(keyId, { requestId: `r${i}` }));
    state.target = t.db;
    await recorder.flush();
    expect(recorder.depth()).toBe(0);
    expect(recorder.dropped()).toBe(0);
    const rows = await requestIds(keyId);
    expect(rows).toEqual(Array.from({ length: 30 }, (_, i) => `r${i}`));
    await recorder.close();
    await down.close();
  });

  it('drops the oldest rows past maxBuffered, and counts them', async () => {
    const refused = () => Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
    const failing: Pick<Db, 'query'> = { query: refused };
    const { db, state } = switchableDb(failing);
    const dropped: number[] = [];
    const warnings: Array<{ obj: { dropped?: number }; msg: string }> = [];
    const log = { warn: (obj: object, msg: string) => warnings.push({ obj, msg }) };
    const recorder = createUsageRecorder({ ...quiet, db, log, maxBatch: 5, maxBuffered: 10, onDropped: (n) => dropped.push(n) });
    const keyId = randomUUID();
    for (let i = 0; i < 15; i++) recorder.record(row(keyId, { requestId: `r${i}` }));
    await recorder.flush();
    expect(recorder.depth()).toBe(10);
    expect(recorder.dropped()).toBe(5);
    expect(dropped.reduce((a, b) => a + b, 0)).toBe(5);
    state.target = t.db;
    await recorder.close();
    // One line for all five, not one per row.
    const dropLines = warnings.filter((w) => w.msg === 'usage rows dropped: buffer full');
    expect(dropLines.map((w) => w.obj.dropped)).toEqual([5]);
    const rows = await requestIds(keyId);
    expect(rows).toEqual(Array.from({ length: 10 }, (_, i) => `r${i + 5}`));
  });

  it('cleans what it can and drops (counting) what Postgres could never accept', async () => {
    const dropped: number[] = [];
    const recorder = createUsageRecorder({ ...quiet, db: t.db, onDropped: (n) => dropped.push(n) });
    const keyId = randomUUID();
    recorder.record(row('not-a-uuid'));
    recorder.record(row(keyId, { status: 99_999, promptTokens: Number.NaN, createdAt: new Date('nope') }));
    await recorder.close();
    expect(dropped).toEqual([1]);
    const { rows } = await t.db.query('SELECT status, prompt_tokens FROM usage_records WHERE key_id = $1', [keyId]);
    expect(rows).toEqual([{ status: 32_767, prompt_tokens: 0 }]);
  });

  it('gives up on a batch the database rejects as invalid rather than retrying it forever', async () => {
    let rejectNext = true;
    const db: Pick<Db, 'query'> = {
      query: (sql, params) => {
        if (!rejectNext) return t.db.query(sql, params);
        rejectNext = false;
        return Promise.reject(Object.assign(new Error('invalid input syntax'), { code: '22P02' }));
      },
    };
    const dropped: number[] = [];
    const recorder = createUsageRecorder({ ...quiet, db, maxBatch: 3, onDropped: (n) => dropped.push(n) });
    const keyId = randomUUID();
    for (let i = 0; i < 5; i++) recorder.record(row(keyId));
    await recorder.close();
    expect(dropped).toEqual([3]);
    expect(recorder.dropped()).toBe(3);
    expect(await countRows(keyId)).toBe(2);
  });

  it('runs one write at a time', async () => {
    let active = 0;
    let maxActive = 0;
    const db: Pick<Db, 'query'> = {
      query: async (sql, params) => {
        maxActive = Math.max(maxActive, ++active);
        await new Promise((r) => setTimeout(r, 20));
        try {
          return await t.db.query(sql, params);
        } finally {
          active--;
        }
      },
    };
    const recorder = createUsageRecorder({ ...quiet, db, maxBatch: 2 });
    const keyId = randomUUID();
    for (let i = 0; i < 10; i++) recorder.record(row(keyId));
    await Promise.all([recorder.flush(), recorder.flush(), recorder.flush()]);
    await recorder.close();
    expect(maxActive).toBe(1);
    expect(await countRows(keyId)).toBe(10);
  });
});

async function waitFor(cond: () => Promise<boolean>, ms = 1500): Promise<void> {
  const until = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
