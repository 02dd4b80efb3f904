import { randomUUID } from 'node:crypto';
import { createUsageQuery } from '../../../app/stores/usage-query';
import { startRetention } from '../../../app/stores/usage-retention';
import { createTestDatabase, type TestDatabase } from '../../support/test-db';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(() => t.drop());

interface Row {
  keyId: string;
  model: string;
  prompt: number;
  completion: number;
  cached?: boolean;
  at: string;
}

async function insert(rows: Row[]): Promise<void> {
  for (const r of rows) {
    await t.db.query(
      `INSERT INTO usage_records (key_id, model, prompt_tokens, completion_tokens, cached, status, request_id, created_at)
       VALUES ($1, $2, $3, $4, $5, 200, $6, $7)`,
      [r.keyId, r.model, r.prompt, r.completion, r.cached ?? false, randomUUID(), r.at],
    );
  }
}

describe('usage query', () => {
  const a = randomUUID();
  const b = randomUUID();
  const query = () => createUsageQuery({ db: t.db });

  beforeAll(() =>
    insert([
      { keyId: a, model: 'gpt-4o', prompt: 100, completion: 50, at: '2031-03-01T00:00:00Z' },
      { keyId: a, model: 'gpt-4o', prompt: 10, completion: 5, cached: true, at: '2031-03-10T00:00:00Z' },
      { keyId: a, model: 'gpt-4o-mini', prompt: 1, completion: 2, at: '2031-03-20T00:00:00Z' },
      { keyId: a, model: 'gpt-4o', prompt: 1000, completion: 1000, at: '2031-02-28T23:59:59Z' },
      { keyId: b, model: 'gpt-4o', prompt: 7, completion: 3, at: '2031-03-05T00:00:00Z' },
    ]),
  );

  it('sums one key, per model, as numbers', async () => {
    const s = await query().summary({ keyId: a, since: new Date('2031-03-01T00:00:00Z') });
    expect(s).toEqual({
      requests: 3,
      prompt_tokens: 111,
      completion_tokens: 57,
      total_tokens: 168,
      cached_requests: 1,
      by_model: {
        'gpt-4o': { requests: 2, prompt_tokens: 110, completion_tokens: 55, total_tokens: 165 },
        'gpt-4o-mini': { requests: 1, prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 },
      },
    });
  });

  it('filters by time: since inclusive, until exclusive', async () => {
    const since = new Date('2031-03-01T00:00:00Z');
    const s = await query().summary({ keyId: a, since, until: new Date('2031-03-20T00:00:00Z') });
    expect(s.requests).toBe(2);
    expect(Object.keys(s.by_model)).toEqual(['gpt-4o']);
  });

  it('sums every key when none is given', async () => {
    const s = await query().summary({ since: new Date('2031-01-01'), until: new Date('2031-04-01') });
    expect(s.requests).toBe(5);
    expect(s.total_tokens).toBe(168 + 2000 + 10);
  });

  it('answers zero for a key that cannot exist', async () => {
    const s = await query().summary({ keyId: 'nope' });
    expect(s).toEqual({ requests: 0, prompt_tokens: 0, completion_tokens: 0, total_tokens: 0, cached_requests: 0, by_model: {} });
    expect(await query().monthTokens('nope', new Date())).toBe(0);
  });

  it('monthTokens counts prompt + completion since the month began, cache hits excluded', async () => {
    // 168 in March, less the cached row's 15: a cache hit costs nothing upstream.
    expect(await query().monthTokens(a, new Date('2031-03-01T00:00:00Z'))).toBe(153);
    expect(await query().monthTokens(b, new Date('2031-03-01T00:00:00Z'))).toBe(10);
    expect(await query().monthTokens(randomUUID(), new Date('2031-03-01T00:00:00Z'))).toBe(0);
  });
});

describe('usage retention', () => {
  it('deletes rows older than the retention period, in batches', async () => {
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
    const count = async () => (await q.summary({ keyId })).requests;
    // Every row in this file's other tests is from 2031, so they go too.
    expect(await q.deleteOlderThan(90)).toBe(4 + 5);
    expect(await count()).toBe(2);
    expect(await q.deleteOlderThan(90)).toBe(0);
  });

  it('runs on a timer, reports deletions, and stops cleanly', async () => {
    const calls: number[] = [];
    const deleted: number[] = [];
    const retention = startRetention({
      query: { deleteOlderThan: async (days) => (calls.push(days), 3) },
      days: 30,
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
    expect(deleted[0]).toBe(3);
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
