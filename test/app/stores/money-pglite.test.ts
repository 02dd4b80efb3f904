/** The money side on the embedded database: the same SQL must run on PGlite as on Postgres. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { createPgliteDb } from '../../../app/stores/db';
import { createKeyStore, hashKey } from '../../../app/stores/keys';
import { migrate } from '../../../app/stores/migrate';
import { createTeamStore } from '../../../app/stores/teams';
import type { Db } from '../../../app/stores/types';
import { createUsageQuery } from '../../../app/stores/usage-query';
import { createUsageRecorder } from '../../../app/stores/usage-recorder';

let dir: string;
let db: Db;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'llmapi-money-pglite-'));
  db = await createPgliteDb(dir);
  await migrate(db);
}, 60_000);
afterAll(async () => {
  await db.close();
  rmSync(dir, { recursive: true, force: true });
});

it('keys join their team, usage rows feed the rollup, reports and spend read it', async () => {
  const team = await createTeamStore({ db }).create({ name: 'embedded', dailyBudgetUsd: 2.5 });
  const keys = createKeyStore({ db });
  const { record, key } = await keys.create({ name: 'k', teamId: team.id, monthlyBudgetUsd: 10 });
  expect(await keys.findByHash(hashKey(key))).toEqual(record);
  expect(record.team).toMatchObject({ id: team.id, dailyBudgetUsd: 2.5 });

  const recorder = createUsageRecorder({ db, onError: (e) => { throw e; }, onDropped: () => undefined });
  for (const costUsd of [0.5, 0.25, null]) {
    recorder.record({
      keyId: record.id, teamId: team.id, model: 'gpt-4o', promptTokens: 10, completionTokens: 5, cachedInputTokens: 2,
      cacheWriteTokens: 0, reasoningTokens: 1, costUsd, estimated: false, cached: false, status: 200, upstreamMs: 1,
      totalMs: 1, requestId: randomUUID(), createdAt: new Date('2031-05-15T10:00:00Z'),
    });
  }
  await recorder.close();
  const usage = createUsageQuery({ db });
  expect(await usage.summary({ teamId: team.id })).toMatchObject({ requests: 3, cost_usd: 0.75, unpriced_requests: 1, reasoning_tokens: 3 });
  expect((await usage.grouped({}, 'team')).map((g) => [g.group, g.cost_usd_text])).toEqual([[team.id, '0.75']]);
  expect(await usage.spendSince('key', record.id, new Date('2031-05-01T00:00:00Z'))).toBe(0.75);
}, 60_000);
