import { randomUUID } from 'node:crypto';
import type { UsageRecord } from '../../../app/stores/types';
import { createUsageQuery } from '../../../app/stores/usage-query';
import { createUsageRecorder } from '../../../app/stores/usage-recorder';
import { startRetention } from '../../../app/stores/usage-retention';
import { createTestDatabase, type TestDatabase } from '../../support/test-db';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(() => t.drop());

interface Row {
  keyId: string;
  teamId?: string | null;
  model: string;
  prompt: number;
  completion: number;
  cached?: boolean;
  cost?: number | null;
  at: string;
}

/** Through the recorder, as the service writes them: raw rows and the rollup together. */
async function insert(rows: Row[]): Promise<void> {
  const recorder = createUsageRecorder({ db: t.db, onError: (e) => { throw e; }, onDropped: () => undefined, flushIntervalMs: 60_000 });
  for (const r of rows) {
    const rec: UsageRecord = {
      keyId: r.keyId,
      teamId: r.teamId ?? null,
      model: r.model,
      promptTokens: r.prompt,
      completionTokens: r.completion,
      cachedInputTokens: 0,
      cacheWriteTokens: 0,
      reasoningTokens: 0,
      costUsd: r.cost === undefined ? 0.001 : r.cost,
      estimated: false,
      cached: r.cached ?? false,
      status: 200,
      upstreamMs: 1,
      totalMs: 1,
      requestId: randomUUID(),
      createdAt: new Date(r.at),
    };
    recorder.record(rec);
  }
  await recorder.close();
}

describe('usage query', () => {
  const a = randomUUID();
  const b = randomUUID();
  const team = randomUUID();
  const query = () => createUsageQuery({ db: t.db });

  beforeAll(() =>
    insert([
      { keyId: a, teamId: team, model: 'gpt-4o', prompt: 100, completion: 50, cost: 0.5, at: '2031-03-01T00:00:00Z' },
      { keyId: a, teamId: team, model: 'gpt-4o', prompt: 10, completion: 5, cached: true, cost: 0, at: '2031-03-10T00:00:00Z' },
      { keyId: a, teamId: team, model: 'gpt-4o-mini', prompt: 1, completion: 2, cost: 0.25, at: '2031-03-20T00:00:00Z' },
      { keyId: a, model: 'gpt-4o', prompt: 1000, completion: 1000, cost: 2, at: '2031-02-28T23:59:59Z' },
      { keyId: b, model: 'local', prompt: 7, completion: 3, cost: null, at: '2031-03-05T00:00:00Z' },
    ]),
  );

  it('sums one key, per model, as numbers, with cost', async () => {
    const s = await query().summary({ keyId: a });
    expect(s).toMatchObject({ requests: 4, prompt_tokens: 1111, completion_tokens: 1057, total_tokens: 2168, cached_requests: 1, cost_usd: 2.75, unpriced_requests: 0 });
    expect(s.by_model['gpt-4o']).toMatchObject({ requests: 3, prompt_tokens: 1110, completion_tokens: 1055, total_tokens: 2165, cost_usd: 2.5 });
    expect(s.by_model['gpt-4o-mini']).toMatchObject({ requests: 1, total_tokens: 3, cost_usd: 0.25 });
  });

  it('selects whole UTC days: since inclusive, until exclusive (a day until cuts into is included)', async () => {
    const since = new Date('2031-03-01T00:00:00Z');
    const s = await query().summary({ keyId: a, since, until: new Date('2031-03-20T00:00:00Z') });
    expect(s.requests).toBe(2);
    expect(Object.keys(s.by_model)).toEqual(['gpt-4o']);
    const cut = await query().summary({ keyId: a, since, until: new Date('2031-03-20T00:00:01Z') });
    expect(cut.requests).toBe(3);
  });

  it('filters by team and by model, and counts unpriced rows apart from the cost', async () => {
    expect((await query().summary({ teamId: team })).requests).toBe(3);
    expect((await query().summary({ model: 'gpt-4o-mini' })).requests).toBe(1);
    const local = await query().summary({ keyId: b });
    expect(local).toMatchObject({ requests: 1, cost_usd: 0, unpriced_requests: 1 });
  });

  it('groups by key, team, model and day', async () => {
    const range = { since: new Date('2031-01-01'), until: new Date('2031-04-01') };
    const byTeam = await query().grouped(range, 'team');
    expect(byTeam.map((g) => [g.group, g.requests, g.cost_usd_text])).toEqual([
      [null, 2, '2'],
      [team, 3, '0.75'],
    ]);
    const byKey = await query().grouped(range, 'key');
    expect(Object.fromEntries(byKey.map((g) => [g.group, g.requests]))).toEqual({ [a]: 4, [b]: 1 });
    const byDay = await query().grouped({ keyId: a }, 'day');
    expect(byDay.map((g) => g.group)).toEqual(['2031-02-28', '2031-03-01', '2031-03-10', '2031-03-20']);
  });

  it('answers zero for ids that cannot exist', async () => {
    const s = await query().summary({ keyId: 'nope' });
    expect(s).toMatchObject({ requests: 0, total_tokens: 0, cost_usd: 0, by_model: {} });
    expect(await query().grouped({ teamId: 'nope' }, 'team')).toEqual([]);
    expect(await query().monthTokens('nope', new Date())).toBe(0);
    expect(await query().spendSince('team', 'nope', new Date())).toBe(0);
  });

  it('monthTokens counts prompt + completion since the month began, cache hits excluded', async () => {
    // 168 in March, less the cached row's 15: a cache hit costs nothing upstream.
    expect(await query().monthTokens(a, new Date('2031-03-01T00:00:00Z'))).toBe(153);
    expect(await query().monthTokens(b, new Date('2031-03-01T00:00:00Z'))).toBe(10);
    expect(await query().monthTokens(randomUUID(), new Date('2031-03-01T00:00:00Z'))).toBe(0);
  });

  it('spendSince sums a key or a team from the rollup, from the given UTC day on', async () => {
    expect(await query().spendSince('key', a, new Date('2031-03-01T00:00:00Z'))).toBe(0.75);
    expect(await query().spendSince('key', a, new Date('2031-02-01T00:00:00Z'))).toBe(2.75);
    expect(await query().spendSince('team', team, new Date('2031-03-10T12:00:00Z'))).toBe(0.25);
  });
});

describe('usage retention', () => {
  it('deletes raw rows older than the retention period, in batches, and rollups past their own', async () => {
    const keyId = randomUUID();
    const now = Date.parse('2032-06-01T00:00:00Z');
    const day = 86_400_000;
    await insert(
      [100, 95, 91, 90.5, 89, 1].map((d) => ({
        keyId,
        model: 'm',
        prompt: 1,
        completion: 1,
        at: new Date(now - d * day).toISOString(),
      })),
    );
    const q = createUsageQuery({ db: t.db, now: () => now, deleteBatch: 2 });
    const raw = async () => Number((await t.db.query<{ n: string }>('SELECT count(*) AS n FROM usage_records WHERE key_id = $1', [keyId])).rows[0].n);
    // Every row in this file's other tests is from 2031, so they go too.
    expect(await q.deleteOlderThan(90)).toBe(4 + 5);
    expect(await raw()).toBe(2);
    expect(await q.deleteOlderThan(90)).toBe(0);
    // The rollup still reports all six days until its own retention passes.
    expect((await q.summary({ keyId })).requests).toBe(6);
    // Days 100, 95 and 91 (twice: 90.5 days ago is the same UTC day) for this key, plus the 2031 ones.
    expect(await q.deleteRollupsOlderThan(90)).toBe(3 + 5);
    expect((await q.summary({ keyId })).requests).toBe(2);
  });

  it('runs on a timer, deletes raw rows and rollups, reports deletions, and stops cleanly', async () => {
    const calls: number[] = [];
    const rollupCalls: number[] = [];
    const deleted: number[] = [];
    const retention = startRetention({
      query: {
        deleteOlderThan: async (days) => (calls.push(days), 3),
        deleteRollupsOlderThan: async (days) => (rollupCalls.push(days), 1),
      },
      days: 30,
      rollupDays: 400,
      intervalMs: 20,
      initialDelayMs: 0,
      onError: () => undefined,
      onDeleted: (n) => deleted.push(n),
    });
    await new Promise((r) => setTimeout(r, 100));
    await retention.stop();
    const seen = calls.length;
    expect(seen).toBeGreaterThanOrEqual(2);
    expect(calls.every((d) => d === 30)).toBe(true);
    expect(rollupCalls.every((d) => d === 400)).toBe(true);
    expect(deleted[0]).toBe(4);
    await new Promise((r) => setTimeout(r, 50));
    expect(calls.length).toBe(seen);
  });

  it('reports errors and keeps going', async () => {
    const onError = jest.fn();
    const retention = startRetention({
      query: { deleteOlderThan: async () => Promise.reject(new Error('db down')) },
      initialDelayMs: 60_000,
      onError,
    });
    expect(await retention.runOnce()).toBe(0);
    expect(onError).toHaveBeenCalledTimes(1);
    await retention.stop();
  });
});
