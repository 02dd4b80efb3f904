import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { UpstreamError, UpstreamTimeoutError } from '../../../app/errors';
import { createUpstreamClient, type UpstreamClient, type UpstreamOptions } from '../../../app/upstream/client';
import { startFakeUpstream, type FakeUpstream } from '../../support/fake-upstream';

const CHAT = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
const post = (signal?: AbortSignal) => ({ method: 'POST' as const, path: '/chat/completions', body: CHAT, signal });

let up: FakeUpstream;
const clients: UpstreamClient[] = [];

function client(over: Partial<UpstreamOptions> = {}): UpstreamClient {
  const c = createUpstreamClient({ baseUrl: up.url, timeoutMs: 2000, maxRetries: 2, retryBaseMs: 1, ...over });
  clients.push(c);
  return c;
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

beforeAll(async () => {
  up = await startFakeUpstream();
});
afterEach(async () => {
  up.reset();
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => undefined)));
});
afterAll(() => up.close());

describe('upstream client retries', () => {
  it('retries 500 and 503, then returns the success', async () => {
    up.queueFaults([
      { kind: 'status', status: 500 },
      { kind: 'status', status: 503 },
    ]);
    const res = await client().request(post());
    expect(res.statusCode).toBe(200);
    expect(res.retries).toBe(2);
    expect(((await res.body.json()) as { object: string }).object).toBe('chat.completion');
    expect(up.stats.requests).toBe(3);
  });

  it('gives up after maxRetries and returns the final 5xx with its body', async () => {
    up.setFault({ kind: 'status', status: 502 });
    const res = await client({ maxRetries: 2 }).request(post());
    expect(res.statusCode).toBe(502);
    expect(res.retries).toBe(2);
    expect(await res.body.json()).toMatchObject({ error: { message: expect.any(String) } });
    expect(up.stats.requests).toBe(3);
  });

  it('makes one attempt only when maxRetries is 0', async () => {
    up.setFault({ kind: 'status', status: 500 });
    const res = await client({ maxRetries: 0 }).request(post());
    expect(res.statusCode).toBe(500);
    expect(up.stats.requests).toBe(1);
  });

  it('retries a 429 after waiting out a short retry-after', async () => {
    up.queueFaults([{ kind: 'status', status: 429, retryAfter: '0.1' }]);
    const started = Date.now();
    const res = await client().request(post());
    expect(res.statusCode).toBe(200);
    expect(res.retries).toBe(1);
    expect(up.requests[1].at - up.requests[0].at).toBeGreaterThanOrEqual(90);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('hands back a 429 at once when retry-after exceeds the 8 s cap', async () => {
    up.setFault({ kind: 'status', status: 429, retryAfter: '9' });
    const started = Date.now();
    const res = await client().request(post());
    expect(res.statusCode).toBe(429);
    expect(res.headers['retry-after']).toBe('9');
    expect(res.retries).toBe(0);
    expect(up.stats.requests).toBe(1);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('reads retry-after as an HTTP date too', async () => {
    up.setFault({ kind: 'status', status: 503, retryAfter: new Date(Date.now() + 60_000).toUTCString() });
    const res = await client().request(post());
    expect(res.statusCode).toBe(503);
    expect(up.stats.requests).toBe(1);
  });

  it.each([400, 401, 404, 422])('never retries a %i', async (status) => {
    up.setFault({ kind: 'status', status });
    const res = await client().request(post());
    expect(res.statusCode).toBe(status);
    expect(res.retries).toBe(0);
    expect(up.stats.requests).toBe(1);
  });
});

describe('upstream client connection failures', () => {
  it('retries a reset connection, then rejects with UpstreamError', async () => {
    up.setFault({ kind: 'reset' });
    await expect(client({ maxRetries: 2 }).request(post())).rejects.toBeInstanceOf(UpstreamError);
    expect(up.stats.requests).toBe(3);
  });

  it('recovers when a reset is followed by an answer', async () => {
    up.queueFaults([{ kind: 'reset' }]);
    const res = await client().request(post());
    expect(res.statusCode).toBe(200);
    expect(res.retries).toBe(1);
  });

  it('rejects a refused connection with UpstreamError (502)', async () => {
    const port = await closedPort();
    const err = await client({ baseUrl: `http://127.0.0.1:${port}/v1` })
      .request(post())
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as UpstreamError).status).toBe(502);
  });

  // undici checks header/body timeouts on a coarse (~1 s) timer, so this test takes about a second.
  it('rejects a hanging upstream with UpstreamTimeoutError after about timeoutMs, without retrying', async () => {
    up.setFault({ kind: 'hang' });
    const started = Date.now();
    const err = await client({ timeoutMs: 150 })
      .request(post())
      .catch((e: unknown) => e);
    const elapsed = Date.now() - started;
    expect(err).toBeInstanceOf(UpstreamTimeoutError);
    expect((err as UpstreamTimeoutError).status).toBe(504);
    expect(elapsed).toBeGreaterThanOrEqual(140);
    expect(elapsed).toBeLessThan(2500);
    expect(up.stats.requests).toBe(1);
  });

  it('rejects promptly, with no UpstreamError, when the caller aborts a waiting request', async () => {
    up.setFault({ kind: 'hang' });
    const ac = new AbortController();
    const pending = client({ timeoutMs: 5000 }).request(post(ac.signal));
    await up.waitForRequests(1);
    const started = Date.now();
    ac.abort();
    const err = await pending.catch((e: unknown) => e);
    // The signal's own reason (a DOMException from Node's realm, hence no instanceof Error here).
    expect((err as Error).name).toBe('AbortError');
    expect(err).not.toBeInstanceOf(UpstreamError);
    expect(err).not.toBeInstanceOf(UpstreamTimeoutError);
    expect(Date.now() - started).toBeLessThan(300);
    await up.waitForAbort();
  });

  it('stops waiting out a retry-after when the caller aborts', async () => {
    up.setFault({ kind: 'status', status: 429, retryAfter: '5' });
    const ac = new AbortController();
    const pending = client().request(post(ac.signal));
    await up.waitForRequests(1);
    const started = Date.now();
    setTimeout(() => ac.abort(), 20);
    expect(((await pending.catch((e: unknown) => e)) as Error).name).toBe('AbortError');
    expect(Date.now() - started).toBeLessThan(500);
    expect(up.stats.requests).toBe(1);
  });
});

describe('upstream client request shape', () => {
  it('sends the configured key as a bearer token, and JSON content-type with a body', async () => {
    await (await client({ apiKey: 'sk-upstream-secret' }).request(post())).body.dump();
    expect(up.requests[0].headers.authorization).toBe('Bearer sk-upstream-secret');
    expect(up.requests[0].headers['content-type']).toBe('application/json');
    expect(up.requests[0].body).toEqual(JSON.parse(CHAT));
  });

  it('sends no Authorization header when no key is configured', async () => {
    await (await client().request({ method: 'GET', path: '/models' })).body.dump();
    expect(up.requests[0].headers).not.toHaveProperty('authorization');
  });

  it('keeps the configured key over one in the extra headers', async () => {
    const c = client({ apiKey: 'sk-upstream-secret' });
    await (await c.request({ ...post(), headers: { authorization: 'Bearer caller-key' } })).body.dump();
    expect(up.requests[0].headers.authorization).toBe('Bearer sk-upstream-secret');
  });

  it.each([
    ['without', ''],
    ['with', '/'],
  ])('keeps the /v1 base path (base URL %s a trailing slash)', async (_, slash) => {
    const res = await client({ baseUrl: `${up.url}${slash}` }).request({ method: 'GET', path: '/models' });
    expect(res.statusCode).toBe(200);
    await res.body.dump();
    expect(up.requests[0].path).toBe('/v1/models');
    expect(up.requests[0].method).toBe('GET');
  });
});
