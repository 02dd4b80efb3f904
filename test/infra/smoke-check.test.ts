import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import { SmokeCheckError, smokeCheck } from '../../scripts/smoke-check';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/** A local server whose answers the test scripts; records every path requested. */
async function serve(handler: Handler): Promise<{ url: string; requests: string[]; close: () => Promise<void> }> {
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    requests.push(req.url ?? '');
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const json = (res: http.ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

describe('smokeCheck', () => {
  test('passes once /health and then /ready answer 200, polling /ready until it is ready', async () => {
    let readyCalls = 0;
    const server = await serve((req, res) => {
      if (req.url === '/health') return json(res, 200, { status: 'ok' });
      if (req.url === '/ready') return ++readyCalls < 3 ? json(res, 503, { status: 'starting' }) : json(res, 200, { status: 'ready' });
      json(res, 404, {});
    });
    try {
      const result = await smokeCheck({ baseUrl: `${server.url}/`, timeoutMs: 5000, intervalMs: 20 });
      expect(server.requests).toEqual(['/health', '/ready', '/ready', '/ready']);
      expect(result.paths).toEqual([
        expect.objectContaining({ path: '/health', attempts: 1 }),
        expect.objectContaining({ path: '/ready', attempts: 3 }),
      ]);
    } finally {
      await server.close();
    }
  });

  test('never asks /ready before /health is 200', async () => {
    let healthCalls = 0;
    const server = await serve((req, res) => {
      if (req.url === '/health') return ++healthCalls < 3 ? json(res, 502, {}) : json(res, 200, { status: 'ok' });
      json(res, 200, { status: 'ready' });
    });
    try {
      await smokeCheck({ baseUrl: server.url, timeoutMs: 5000, intervalMs: 20 });
      expect(server.requests).toEqual(['/health', '/health', '/health', '/ready']);
    } finally {
      await server.close();
    }
  });

  test('fails at the deadline naming the path and the last answer', async () => {
    const server = await serve((req, res) =>
      req.url === '/health' ? json(res, 200, { status: 'ok' }) : json(res, 503, { status: 'degraded', checks: { upstream: 'down' } }),
    );
    try {
      const started = Date.now();
      const failure = smokeCheck({ baseUrl: server.url, timeoutMs: 300, intervalMs: 50 });
      await expect(failure).rejects.toThrow(SmokeCheckError);
      await expect(failure).rejects.toThrow(/GET http:\/\/127\.0\.0\.1:\d+\/ready did not answer 200 within 300 ms .*last: HTTP 503 .*degraded/);
      await expect(failure).rejects.toMatchObject({ path: '/ready' });
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      await server.close();
    }
  });

  test('keeps retrying while nothing listens yet, then fails', async () => {
    const server = await serve(() => {});
    const url = server.url;
    await server.close();
    await expect(smokeCheck({ baseUrl: url, timeoutMs: 300, intervalMs: 50 })).rejects.toMatchObject({
      path: '/health',
      lastOutcome: expect.stringMatching(/ECONNREFUSED|fetch failed/),
    });
  });

  test('a server that hangs is cut off by the request timeout', async () => {
    const server = await serve(() => {
      /* never answers */
    });
    try {
      await expect(
        smokeCheck({ baseUrl: server.url, timeoutMs: 400, intervalMs: 50, requestTimeoutMs: 100 }),
      ).rejects.toMatchObject({ lastOutcome: 'request timed out' });
    } finally {
      await server.close();
    }
  });

  test('an injected fetch is used instead of the global one', async () => {
    const seen: string[] = [];
    const fakeFetch = (async (url: string | URL | Request) => {
      seen.push(String(url));
      return new Response('{"status":"ok"}', { status: 200 });
    }) as typeof fetch;
    await smokeCheck({ baseUrl: 'https://llm.example.com', fetch: fakeFetch, timeoutMs: 1000, intervalMs: 10 });
    expect(seen).toEqual(['https://llm.example.com/health', 'https://llm.example.com/ready']);
  });

  test('fails on a base URL that is not http(s)', async () => {
    await expect(smokeCheck({ baseUrl: 'llm.example.com' })).rejects.toThrow(/baseUrl "llm\.example\.com" must be an http\(s\) URL/);
  });
});
