/**
 * No free tokens: a caller that reads part of a stream and hangs up is charged what it was sent —
 * the prompt plus the relayed completion, counted with the tokenizer and marked estimated — and the
 * charge reaches its dollar spend. Against `node dist/server.js`, Postgres and Redis.
 */
import { startFakeUpstream, type FakeUpstream } from '../../support/fake-upstream';
import { startGateway, type GatewayProcess } from '../../support/gateway-process';
import { createTestDatabase, TEST_REDIS_URL, type TestDatabase } from '../../support/test-db';

const ADMIN_KEY = 'admin-served-tokens-0123456789';
let up: FakeUpstream;
let db: TestDatabase;
let gw: GatewayProcess;

beforeAll(async () => {
  up = await startFakeUpstream();
  db = await createTestDatabase({ migrate: false });
  gw = await startGateway({
    env: { DATABASE_URL: db.url, REDIS_URL: TEST_REDIS_URL, OPENAI_BASE_URL: up.url, OPENAI_API_KEY: 'sk-up-served-0123456789', ADMIN_API_KEY: ADMIN_KEY },
  });
}, 60_000);

afterAll(async () => {
  await gw?.stop();
  await up?.close();
  await db?.drop();
});

async function waitForRow(keyId: string) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const { rows } = await db.db.query<Record<string, unknown>>('SELECT * FROM usage_records WHERE key_id = $1', [keyId]);
    if (rows.length) return rows[0];
    if (Date.now() > deadline) throw new Error('no usage row');
    await new Promise((r) => setTimeout(r, 100));
  }
}

it('a stream abandoned after 3 of 20 chunks records non-zero completion tokens, estimated, and moves the spend', async () => {
  const created = await fetch(`${gw.url}/admin/keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'abandoner', daily_budget_usd: 5 }),
  });
  const { id, key } = (await created.json()) as { id: string; key: string };
  up.setFault({ kind: 'slow-stream', delayMs: 100 });
  // The mock answers "This is a mock answer to: <the first 40 characters>": 20 words, a chunk each.
  const content = 'one two three four five six seven eight nine ten eleven twelve thirteen';
  const ac = new AbortController();
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content }] }),
    signal: ac.signal,
  });
  expect(res.status).toBe(200);
  const reader = res.body!.getReader();
  let events = 0;
  let text = '';
  while (events < 4) {
    const { value, done } = await reader.read();
    if (done) break;
    text += Buffer.from(value).toString('utf8');
    events = text.split('\n\n').filter((e) => e.startsWith('data: {')).length;
  }
  ac.abort();
  await up.waitForAbort(5000);
  up.clearFaults();

  const row = await waitForRow(id);
  expect(row).toMatchObject({ status: 499, estimated: true });
  expect(Number(row.completion_tokens)).toBeGreaterThan(0);
  expect(Number(row.completion_tokens)).toBeLessThan(20);
  expect(Number(row.prompt_tokens)).toBeGreaterThan(0);
  expect(Number(row.cost_usd)).toBeGreaterThan(0);

  const mine = await fetch(`${gw.url}/v1/key`, { headers: { authorization: `Bearer ${key}` } });
  const view = (await mine.json()) as { budgets?: { daily?: { spent_usd: number } } } & Record<string, unknown>;
  expect(JSON.stringify(view)).toMatch(/"spent_usd":0\.0\d*[1-9]/);
});
