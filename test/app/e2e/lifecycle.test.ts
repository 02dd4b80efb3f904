/**
 * The process as operators and newcomers meet it: the no-configuration start, the bundle running
 * without node_modules (as in the container), and SIGTERM with streams in flight.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import OpenAI from 'openai';
import { startFakeUpstream, type FakeUpstream } from '../../support/fake-upstream';
import { BUNDLE, startGateway } from '../../support/gateway-process';
import { expectSchema } from '../../support/openapi';
import { createTestDatabase, TEST_REDIS_URL, type TestDatabase } from '../../support/test-db';

const chat = { model: 'gpt-4o', messages: [{ role: 'user' as const, content: 'hello' }] };

describe('embedded defaults: no environment at all', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'llmapi-embedded-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('serves offline with a dev key in .data/dev-api-key that survives a restart', async () => {
    const gw = await startGateway({ cwd: dir, readyTimeoutMs: 60_000 });
    const keyFile = join(dir, '.data', 'dev-api-key');
    try {
      expect(statSync(keyFile).mode & 0o777).toBe(0o600);
      const key = readFileSync(keyFile, 'utf8').trim();
      const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: key, maxRetries: 0 });
      const answer = await client.chat.completions.create(chat);
      expectSchema('CreateChatCompletionResponse', answer);
      const stream = await client.chat.completions.create({ ...chat, stream: true });
      let text = '';
      for await (const c of stream) text += c.choices[0]?.delta?.content ?? '';
      expect(text).toMatch(/mock answer/);
      expect((await client.models.list()).data.length).toBeGreaterThan(0);
      expect((await client.embeddings.create({ model: 'text-embedding-3-small', input: 'x' })).data).toHaveLength(1);

      const logs = gw.lines.join('\n');
      expect(logs).toMatch(/NO UPSTREAM CONFIGURED/);
      expect(logs).toContain('dev-api-key');
      expect(logs).not.toContain(key);
    } finally {
      expect(await gw.stop()).toBe(0);
    }

    const again = await startGateway({ cwd: dir, readyTimeoutMs: 60_000 });
    try {
      const key = readFileSync(keyFile, 'utf8').trim();
      const res = await fetch(`${again.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
      expect(res.status).toBe(200);
    } finally {
      expect(await again.stop()).toBe(0);
    }
  }, 120_000);
});

describe('with Postgres, Redis and an upstream', () => {
  let up: FakeUpstream;
  let db: TestDatabase;
  let key: string;

  beforeAll(async () => {
    up = await startFakeUpstream();
    db = await createTestDatabase();
    const created = await (await import('../../../app/stores/keys')).createKeyStore({ db: db.db }).create({ name: 'life' });
    key = created.key;
  });
  afterAll(async () => {
    await up.close();
    await db.drop();
  });

  const env = () => ({
    DATABASE_URL: db.url,
    REDIS_URL: TEST_REDIS_URL,
    OPENAI_BASE_URL: up.url,
    OPENAI_API_KEY: 'sk-upstream',
    SHUTDOWN_GRACE_MS: '8000',
  });

  it('runs the bundle from a folder without node_modules, as the container does', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'llmapi-bundle-'));
    try {
      // What the image copies: the bundle and the tokenizer it loads on first need.
      for (const file of ['server.js', 'tokenizer.js']) copyFileSync(join(dirname(BUNDLE), file), join(dir, file));
      const gw = await startGateway({ cwd: dir, script: join(dir, 'server.js'), env: env() });
      try {
        const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: key, maxRetries: 0 });
        expectSchema('CreateChatCompletionResponse', await client.chat.completions.create(chat));
        // An exact count (the byte estimate would say 9): the tokenizer loaded from beside the bundle.
        const counted = await fetch(`${gw.url}/v1/responses/input_tokens`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'gpt-4o', input: 'Hello world, how are you?' }),
        });
        expect(await counted.json()).toEqual({ object: 'response.input_tokens', input_tokens: 7 });
        const ready = await fetch(`${gw.url}/ready`);
        expect(ready.status).toBe(200);
      } finally {
        expect(await gw.stop()).toBe(0);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('SIGTERM: refuses new work, finishes streams in flight, flushes usage, exits 0', async () => {
    const gw = await startGateway({ env: env() });
    up.setFault({ kind: 'slow-stream', delayMs: 150 });
    const before = Number((await db.db.query<{ n: string }>('SELECT count(*) AS n FROM usage_records')).rows[0].n);
    const streams = Array.from({ length: 5 }, async () => {
      const res = await fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', connection: 'close' },
        body: JSON.stringify({ ...chat, stream: true }),
      });
      return res.text();
    });
    await up.waitForRequests(5, 5000);
    await new Promise((r) => setTimeout(r, 200));
    const exit = gw.stop('SIGTERM');
    await new Promise((r) => setTimeout(r, 100));
    const refused = await fetch(`${gw.url}/health`).then(
      (r) => r.status,
      () => 'refused',
    );
    expect([503, 'refused']).toContain(refused);
    const bodies = await Promise.all(streams);
    for (const b of bodies) expect(b.endsWith('data: [DONE]\n\n')).toBe(true);
    expect(await exit).toBe(0);
    up.clearFaults();
    const after = Number((await db.db.query<{ n: string }>('SELECT count(*) AS n FROM usage_records')).rows[0].n);
    expect(after - before).toBe(5);
  }, 60_000);
});
