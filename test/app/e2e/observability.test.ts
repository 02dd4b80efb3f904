/**
 * Observability end to end, against the bundle with real Postgres, Redis and a fake upstream:
 * Prometheus on METRICS_PORT (one process, and two workers summed by the primary), CloudWatch EMF
 * lines on stdout, the access log, Server-Timing, and no secret in any log line.
 */
import { request as httpRequest } from 'node:http';
import { startFakeUpstream, type FakeUpstream } from '../../support/fake-upstream';
import { createKeyVia, type GatewayProcess, startGateway } from '../../support/gateway-process';
import { createTestDatabase, TEST_REDIS_URL, type TestDatabase } from '../../support/test-db';
import { emfProblems } from '../observability/emf-spec';
import { parseProm, valueOf, type Sample } from '../observability/prom-text';

const UPSTREAM_KEY = 'sk-upstream-SECRET-obs-0123456789';
const ADMIN_KEY = 'admin-SECRET-obs-9876543210';
const CHAT = '/v1/chat/completions';
const ACCESS_MESSAGES = new Set([
  'request completed',
  'request failed',
  'request aborted by the client',
  'stream failed after the response started',
]);

let up: FakeUpstream;
let db: TestDatabase;
let gw: GatewayProcess;
let cluster: GatewayProcess;
let key: string;
let keyId: string;
const secrets: string[] = [UPSTREAM_KEY, ADMIN_KEY];

const env = (extra: Record<string, string>) => ({
  DATABASE_URL: db.url,
  REDIS_URL: TEST_REDIS_URL,
  OPENAI_BASE_URL: up.url,
  OPENAI_API_KEY: UPSTREAM_KEY,
  ADMIN_API_KEY: ADMIN_KEY,
  UPSTREAM_MAX_RETRIES: '0',
  DEFAULT_RPM: '100000',
  DEFAULT_TPM: '100000000',
  ...extra,
});

async function createKey(on: GatewayProcess, body: Record<string, unknown>) {
  const created = await createKeyVia(on.url, ADMIN_KEY, body);
  secrets.push(created.key);
  return created;
}

async function chat(body: Record<string, unknown>, requestId: string, as = key) {
  const res = await fetch(`${gw.url}${CHAT}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${as}`, 'content-type': 'application/json', 'x-request-id': requestId },
    body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Observe me' }], ...body }),
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

async function scrape(on: GatewayProcess): Promise<Sample[]> {
  const res = await fetch(`http://127.0.0.1:${on.metricsPort}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseProm(await res.text());
}

function accessLines(on: GatewayProcess) {
  return on.logs().filter((l) => ACCESS_MESSAGES.has(l.msg as string) && typeof l.route === 'string');
}

function emfDocs(on: GatewayProcess) {
  return on.logs().filter((l) => '_aws' in l) as Array<Record<string, any>>;
}

async function until(check: () => boolean, what: string, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  up = await startFakeUpstream({ apiKey: UPSTREAM_KEY });
  db = await createTestDatabase();
  [gw, cluster] = await Promise.all([
    startGateway({
      env: env({ EMF_ENABLED: 'true', EMF_INTERVAL_SECONDS: '1', METRICS_NAMESPACE: 'LlmApi/e2e', SERVICE_NAME: 'llm-api-e2e' }),
    }),
    startGateway({ env: env({ WORKERS: '2' }) }),
  ]);
  ({ key, id: keyId } = await createKey(gw, { name: 'observed' }));
}, 60_000);

afterEach(() => up.clearFaults());

afterAll(async () => {
  await Promise.all([gw?.stop(), cluster?.stop()]);
  await up?.close();
  await db?.drop();
});

describe('Prometheus on METRICS_PORT', () => {
  it('is not on the public port, and the metrics port serves nothing but /metrics', async () => {
    const pub = await fetch(`${gw.url}/metrics`);
    expect(pub.status).toBe(404);
    expect(((await pub.json()) as { error: { type: string } }).error.type).toBe('invalid_request_error');
    expect((await fetch(`http://127.0.0.1:${gw.metricsPort}/`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${gw.port}/metrics`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).status).toBe(404);
  });

  it('moves each family by what the traffic did: success, cache hit, rate limit, upstream 500, stream', async () => {
    const before = await scrape(gw);
    let prompt = 0;
    let completion = 0;
    const usageOf = (text: string) => {
      const u = (JSON.parse(text) as { usage: { prompt_tokens: number; completion_tokens: number } }).usage;
      prompt += u.prompt_tokens;
      completion += u.completion_tokens;
    };

    const ok = await chat({}, 'obs-ok');
    expect(ok.status).toBe(200);
    usageOf(ok.text);
    const cached = { temperature: 0, messages: [{ role: 'user', content: `cache me ${Date.now()}` }] };
    const miss = await chat(cached, 'obs-miss');
    const hit = await chat(cached, 'obs-hit');
    expect([miss.headers.get('x-cache'), hit.headers.get('x-cache')]).toEqual(['MISS', 'HIT']);
    for (const r of [miss, hit]) usageOf(r.text);

    const limited = await createKey(gw, { name: 'rpm1', rpm: 1 });
    const first = await chat({}, 'obs-rpm1', limited.key);
    expect(first.status).toBe(200);
    usageOf(first.text);
    expect((await chat({}, 'obs-429', limited.key)).status).toBe(429);

    up.setFault({ kind: 'status', status: 500 });
    expect((await chat({}, 'obs-502')).status).toBe(502);
    up.clearFaults();

    const stream = await chat({ stream: true, stream_options: { include_usage: true } }, 'obs-stream');
    expect(stream.status).toBe(200);
    const events = stream.text.split('\n\n').filter((e) => e.startsWith('data: {'));
    usageOf(events.at(-1)!.slice(6));

    // The access line (and the metrics with it) is written when the response closes: wait for the last.
    await until(() => accessLines(gw).some((l) => l.reqId === 'obs-stream'), 'the stream to be recorded');
    const after = await scrape(gw);
    const delta = (name: string, labels: Record<string, string> = {}) => valueOf(after, name, labels) - valueOf(before, name, labels);
    const chatRoute = { route: CHAT, method: 'POST' };

    expect(delta('http_requests_total', { ...chatRoute, status: '200' })).toBe(5); // ok, miss, hit, rpm1, stream
    expect(delta('http_requests_total', { ...chatRoute, status: '429' })).toBe(1);
    expect(delta('http_requests_total', { ...chatRoute, status: '502' })).toBe(1);
    expect(delta('http_request_duration_seconds_count', { ...chatRoute, status: '200' })).toBe(5);
    expect(delta('http_request_duration_seconds_count', { ...chatRoute, status: '502' })).toBe(1);
    expect(delta('upstream_request_duration_seconds_count', { provider: 'default', deployment: '*#0', status: '200' })).toBe(4); // all but the hit
    expect(delta('upstream_request_duration_seconds_count', { provider: 'default', status: '500' })).toBe(1);
    expect(delta('upstream_errors_total', { kind: 'status_5xx' })).toBe(1);
    expect(delta('upstream_errors_total')).toBe(1);
    expect(delta('gateway_overhead_seconds_count', { route: CHAT })).toBe(5); // every request that reached the upstream
    expect(delta('gateway_overhead_seconds_sum', { route: CHAT })).toBeGreaterThan(0);
    expect(delta('stream_time_to_first_token_seconds_count', { model: 'gpt-4o' })).toBe(1);
    expect(delta('tokens_total', { model: 'gpt-4o', type: 'prompt' })).toBe(prompt);
    expect(delta('tokens_total', { model: 'gpt-4o', type: 'completion' })).toBe(completion);
    expect(prompt).toBeGreaterThan(0);
    expect(delta('cache_requests_total', { result: 'hit' })).toBe(1);
    expect(delta('cache_requests_total', { result: 'miss' })).toBe(1);
    expect(delta('cache_requests_total', { result: 'bypass' })).toBe(4); // ok, rpm1, 502, stream
    expect(delta('rate_limited_total', { kind: 'requests' })).toBe(1);
    expect(delta('rate_limited_total')).toBe(1);
    expect(valueOf(after, 'inflight_requests')).toBe(0);
    expect(valueOf(after, 'usage_rows_dropped_total')).toBe(0);
    expect(valueOf(after, 'redis_fallback_total')).toBe(0);
    expect(after.some((s) => s.name === 'usage_buffer_depth')).toBe(true);
    expect(valueOf(after, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(after.some((s) => s.name === 'nodejs_eventloop_lag_seconds')).toBe(true);
    // Bounded labels: templates, not URLs; no key or key id anywhere.
    const labelValues = after.flatMap((s) => Object.values(s.labels));
    expect(labelValues).not.toContain(keyId);
    expect(labelValues).not.toContain(limited.id);
    expect(after.filter((s) => s.name === 'http_requests_total').map((s) => s.labels.route)).toContain('/admin/keys');
  });
});


describe('the access log', () => {
  it('holds one line per request: ids, route, model, status, latencies, tokens, cache, retries', async () => {
    const lines = accessLines(gw);
    for (const id of ['obs-ok', 'obs-miss', 'obs-hit', 'obs-rpm1', 'obs-429', 'obs-502', 'obs-stream']) {
      expect(lines.filter((l) => l.reqId === id)).toHaveLength(1);
    }
    const line = (id: string) => lines.find((l) => l.reqId === id)!;
    expect(line('obs-ok')).toMatchObject({
      level: 'info',
      keyId,
      route: CHAT,
      method: 'POST',
      model: 'gpt-4o',
      status: 200,
      cache: 'bypass',
      retries: 0,
      upstreamStatus: 200,
    });
    for (const field of ['latencyMs', 'upstreamMs', 'overheadMs', 'promptTokens', 'completionTokens']) {
      expect(typeof line('obs-ok')[field]).toBe('number');
    }
    expect(line('obs-hit')).toMatchObject({ status: 200, cache: 'hit' });
    expect(line('obs-429')).toMatchObject({ level: 'info', status: 429, rateLimited: 'requests' });
    expect(line('obs-502')).toMatchObject({
      level: 'error',
      status: 502,
      upstreamStatus: 500,
      upstreamError: 'status_5xx',
      error: { type: 'UpstreamError', code: 'upstream_error' },
    });
    expect(line('obs-stream')).toMatchObject({ status: 200, stream: 'completed' });
    expect(typeof line('obs-stream').ttftMs).toBe('number');
  });
});

describe('Server-Timing', () => {
  it('is on chat answers, JSON and streamed', async () => {
    const timing = /^gateway;dur=\d+\.\d{3}, upstream;dur=\d+\.\d{3}$/;
    expect((await chat({}, 'obs-timing')).headers.get('server-timing')).toMatch(timing);
    expect((await chat({ stream: true }, 'obs-timing-stream')).headers.get('server-timing')).toMatch(timing);
    const health = await fetch(`${gw.url}/health`);
    expect(health.headers.get('server-timing')).toBeNull();
  });
});

describe('CloudWatch EMF', () => {
  it('writes one valid EMF line per interval, zeros included, under the configured namespace', async () => {
    const seen = emfDocs(gw).length;
    await until(() => emfDocs(gw).length >= seen + 2, 'two more EMF intervals', 4000);
    const docs = emfDocs(gw);
    for (const doc of docs) {
      expect(emfProblems(doc)).toEqual([]);
      expect(doc._aws.CloudWatchMetrics).toEqual([
        expect.objectContaining({ Namespace: 'LlmApi/e2e', Dimensions: [['Service']] }),
      ]);
      expect(doc.Service).toBe('llm-api-e2e');
      expect(doc._aws.Timestamp % 1000).toBe(0);
    }
    const stamps = docs.map((d) => d._aws.Timestamp as number);
    expect(new Set(stamps).size).toBe(stamps.length); // once per interval
    expect([...stamps].sort((a, b) => a - b)).toEqual(stamps);
    expect(docs.some((d) => d.Requests === 0 && !('GatewayOverhead' in d))).toBe(true); // idle intervals still report
    const busy = docs.filter((d) => Array.isArray(d.GatewayOverhead));
    expect(busy.length).toBeGreaterThan(0);
    expect(busy.flatMap((d) => d.GatewayOverhead as number[]).every((v) => v >= 0)).toBe(true);
  });
});

describe('two workers', () => {
  it('one scrape of the primary returns the sum over both workers', async () => {
    await until(() => cluster.logs().filter((l) => l.msg === 'llm-api listening').length >= 2, 'both workers listening', 15_000);
    const { key: clusterKey } = await createKey(cluster, { name: 'cluster' });
    const before = await scrape(cluster);
    // A new connection per request, so the primary spreads them over its workers.
    const once = () =>
      new Promise<number>((resolve, reject) => {
        const req = httpRequest(`${cluster.url}${CHAT}`, {
          method: 'POST',
          agent: false,
          headers: { authorization: `Bearer ${clusterKey}`, 'content-type': 'application/json' },
        });
        req.on('response', (res) => res.resume().on('end', () => resolve(res.statusCode!)));
        req.on('error', reject);
        req.end(JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }));
      });
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push(await once());
    expect(statuses.every((s) => s === 200)).toBe(true);
    await until(() => accessLines(cluster).filter((l) => l.route === CHAT).length >= 12, 'twelve access lines');

    const pids = new Set(accessLines(cluster).filter((l) => l.route === CHAT).map((l) => l.pid));
    expect(pids.size).toBe(2);
    const after = await scrape(cluster);
    const chatOk = { route: CHAT, method: 'POST', status: '200' };
    expect(valueOf(after, 'http_requests_total', chatOk) - valueOf(before, 'http_requests_total', chatOk)).toBe(12);
    expect(valueOf(after, 'inflight_requests')).toBe(0);
    expect(after.some((s) => s.name === 'process_cpu_user_seconds_total')).toBe(true);
    // The primary only aggregates: only workers answer on the public port.
    expect((await fetch(`${cluster.url}/metrics`)).status).toBe(404);
  });
});

describe('shutdown', () => {
  it('flushes the last partial EMF interval; EMF totals match the access log; no secret in any line', async () => {
    expect((await chat({}, 'obs-last')).status).toBe(200);
    await until(() => accessLines(gw).some((l) => l.reqId === 'obs-last'), 'the last access line');
    expect(await gw.stop()).toBe(0);
    expect(await cluster.stop()).toBe(0);

    const docs = emfDocs(gw);
    const access = accessLines(gw).filter((l) => l.route !== '/health' && l.route !== '/ready');
    const sum = (name: string) => docs.reduce((n, d) => n + (d[name] as number), 0);
    expect(sum('Requests')).toBe(access.length);
    expect(sum('Errors5xx')).toBe(access.filter((l) => (l.status as number) >= 500).length);
    expect(sum('RateLimited')).toBe(access.filter((l) => l.rateLimited).length);
    expect(sum('CacheHits')).toBe(access.filter((l) => l.cache === 'hit').length);
    expect(sum('UpstreamErrors')).toBe(1);
    expect(sum('PromptTokens')).toBe(access.reduce((n, l) => n + (l.promptTokens as number), 0));
    expect(sum('CompletionTokens')).toBe(access.reduce((n, l) => n + (l.completionTokens as number), 0));
    const overheadValues = docs.flatMap((d) => (d.GatewayOverhead as number[] | undefined) ?? []);
    expect(overheadValues.length).toBe(access.filter((l) => l.upstreamMs !== undefined).length);
    // The final line comes after the server drained, just before it exits.
    const lastEmf = gw.lines.map((l) => l.includes('"_aws"')).lastIndexOf(true);
    const drained = gw.lines.findIndex((l) => l.includes('draining'));
    expect(lastEmf).toBeGreaterThan(drained);

    for (const on of [gw, cluster]) {
      expect(on.lines.length).toBeGreaterThan(0);
      for (const line of on.lines) for (const s of secrets) expect(line).not.toContain(s);
    }
  });
});
