/**
 * 1,000 streams at once through the bundle (real Postgres, Redis and an HTTP upstream), held open
 * together, then SIGTERM while all of them are mid-answer: every one must still finish with
 * `[DONE]` inside SHUTDOWN_GRACE_MS, the process must exit 0, and every usage row must be written.
 */
import { execSync } from 'node:child_process';
import { Agent, request } from 'undici';
import { createKeyStore } from '../../../app/stores/keys';
import { startFakeUpstream, type FakeUpstream } from '../../support/fake-upstream';
import { startGateway, type GatewayProcess } from '../../support/gateway-process';
import { createTestDatabase, TEST_REDIS_URL, type TestDatabase } from '../../support/test-db';

const STREAMS = 1000;
/** The fake answers in 10 events (role, 7 words, finish, usage) with this pause after each. */
const CHUNK_DELAY_MS = 1200;
const GRACE_MS = 20_000;
/** This process holds both ends of the upstream side and the client side: 2 sockets a stream. */
const FDS_NEEDED = STREAMS * 2 + 500;

let up: FakeUpstream;
let db: TestDatabase;
let gw: GatewayProcess;
let key: string;
let keyId: string;
let agent: Agent;

interface Stream {
  firstChunk: Promise<void>;
  body: Promise<string>;
  finishedAt?: number;
}
let streams: Stream[] = [];

function openStream(): Stream {
  let gotFirst!: () => void;
  let failFirst!: (err: unknown) => void;
  const firstChunk = new Promise<void>((resolve, reject) => {
    gotFirst = resolve;
    failFirst = reject;
  });
  const s: Stream = { firstChunk, body: Promise.resolve('') };
  s.body = (async () => {
    try {
      const res = await request(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        dispatcher: agent,
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hello' }], stream: true }),
        headersTimeout: 30_000,
        bodyTimeout: 30_000,
      });
      if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}: ${await res.body.text()}`);
      let text = '';
      res.body.setEncoding('utf8');
      for await (const chunk of res.body) {
        if (text === '') gotFirst();
        text += chunk;
      }
      s.finishedAt = Date.now();
      return text;
    } catch (err) {
      failFirst(err);
      throw err;
    }
  })();
  s.body.catch(() => undefined);
  return s;
}

beforeAll(async () => {
  const fds = Number(execSync('ulimit -n', { shell: '/bin/sh' }).toString().trim());
  if (Number.isFinite(fds) && fds < FDS_NEEDED) {
    throw new Error(`this test holds ${STREAMS} streams: raise the open-file limit (ulimit -n ${fds}) to at least ${FDS_NEEDED}`);
  }
  up = await startFakeUpstream({ logLimit: 0 });
  db = await createTestDatabase();
  const created = await createKeyStore({ db: db.db }).create({ name: 'load' });
  key = created.key;
  keyId = created.record.id;
  agent = new Agent({ connections: STREAMS + 100, keepAliveTimeout: 30_000 });
  gw = await startGateway({
    env: {
      DATABASE_URL: db.url,
      REDIS_URL: TEST_REDIS_URL,
      OPENAI_BASE_URL: up.url,
      OPENAI_API_KEY: 'sk-upstream-load',
      // One upstream connection per stream, so all of them are really in flight at once.
      UPSTREAM_MAX_CONNECTIONS: String(STREAMS + 100),
      DEFAULT_RPM: '1000000',
      DEFAULT_TPM: '1000000000',
      SHUTDOWN_GRACE_MS: String(GRACE_MS),
      LOG_LEVEL: 'warn',
    },
  });
}, 60_000);

afterAll(async () => {
  if (gw && gw.child.exitCode === null) await gw.stop('SIGKILL');
  await agent?.close().catch(() => undefined);
  await up?.close();
  await db?.drop();
});

describe(`${STREAMS} concurrent streams`, () => {
  it('are all held open at once, each having received its first chunk', async () => {
    up.setFault({ kind: 'slow-stream', delayMs: CHUNK_DELAY_MS });
    const started = Date.now();
    streams = Array.from({ length: STREAMS }, openStream);
    await Promise.all(streams.map((s) => s.firstChunk));
    const rampMs = Date.now() - started;
    // Held: every stream is open, none has finished, and the gateway has one upstream call per stream.
    expect(streams.filter((s) => s.finishedAt !== undefined)).toHaveLength(0);
    expect(up.stats.requests).toBe(STREAMS);
    expect(up.stats.openConnections).toBeGreaterThanOrEqual(STREAMS);
    expect(rampMs).toBeLessThan(10 * CHUNK_DELAY_MS);
  }, 30_000);

  it('SIGTERM finishes every one of them within the grace period, exits 0 and writes all usage', async () => {
    const before = Number((await db.db.query<{ n: string }>('SELECT count(*) AS n FROM usage_records')).rows[0].n);
    const signalledAt = Date.now();
    const exit = gw.stop('SIGTERM', GRACE_MS + 10_000);

    await new Promise((r) => setTimeout(r, 200));
    const late = await fetch(`${gw.url}/health`, { signal: AbortSignal.timeout(3000) }).then(
      (r) => r.status,
      () => 'refused',
    );
    expect([503, 'refused']).toContain(late);

    const bodies = await Promise.all(streams.map((s) => s.body));
    const incomplete = bodies.filter((b) => !b.endsWith('data: [DONE]\n\n') || b.includes('"error"'));
    expect(incomplete).toHaveLength(0);
    expect(await exit).toBe(0);
    const exitedAfterMs = Date.now() - signalledAt;
    expect(exitedAfterMs).toBeLessThan(GRACE_MS);
    expect(gw.lines.join('\n')).not.toMatch(/grace period over/);

    const rows = await db.db.query<{ n: string; ok: string }>(
      'SELECT count(*) AS n, count(*) FILTER (WHERE status = 200) AS ok FROM usage_records WHERE key_id = $1',
      [keyId],
    );
    expect(Number(rows.rows[0].n) - before).toBe(STREAMS);
    expect(Number(rows.rows[0].ok)).toBe(STREAMS);
  }, 45_000);
});
