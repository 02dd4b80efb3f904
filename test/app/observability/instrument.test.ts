/**
 * The hooks on a real listening Fastify app: one access line and one metrics record per request,
 * whatever way it ends (JSON, stream, error, 4xx, caller hanging up, 503 while draining), from the
 * outcome the route hands over.
 */
import { request as httpRequest } from 'node:http';
import { PassThrough } from 'node:stream';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import { RateLimitError, UpstreamError } from '../../../app/errors';
import { createLogger } from '../../../app/lib/logger';
import { instrumentation } from '../../../app/observability/instrument';
import { createGatewayMetrics } from '../../../app/observability/metrics';
import { errorHandler } from '../../../app/plugins/error-handler';
import { createScrubber } from '../../../app/security/scrub';
import { requestContext, requestId, type Lifecycle } from '../../../app/plugins/request-context';
import { emptyOutcome, type CallOutcome } from '../../../app/pipeline/outcome';
import { keyRecord } from '../../support/fixtures';
import { parseProm, valueOf } from './prom-text';

const CHAT = '/v1/chat/completions';
const lines: Array<Record<string, any>> = [];
const lifecycle: Lifecycle = { draining: false };
const metrics = createGatewayMetrics({ registry: new Registry(), defaultMetrics: false });
let app: FastifyInstance;
let base: string;
let releaseStream: (() => void) | undefined;

beforeAll(async () => {
  const logger = createLogger('info', { write: (s: string) => void lines.push(JSON.parse(s)) });
  app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: requestId,
    forceCloseConnections: true,
  });
  instrumentation({ metrics })(app);
  requestContext(app, lifecycle);
  errorHandler(app, { bodyLimit: 1024 * 1024, scrubber: createScrubber({ secrets: [] }) });

  app.get('/health', async () => ({ status: 'ok' }));
  app.post(CHAT, async (request, reply) => {
    // What the pipeline returns: an outcome that settles when the call is over.
    const s: CallOutcome = { ...emptyOutcome(), model: 'gpt-4o' };
    let settle!: (o: CallOutcome) => void;
    request.callOutcome = new Promise((resolve) => (settle = resolve));
    request.apiKey = keyRecord({ id: 'key-1' });
    const mode = request.headers['x-mode'];
    if (mode === 'boom') {
      settle(s);
      throw new Error('kaboom: connection to 10.0.0.7 refused');
    }
    if (mode === 'limited') {
      s.rateLimited = 'requests';
      settle(s);
      throw new RateLimitError('Rate limit reached.', { 'retry-after': '1' });
    }
    s.upstreamMs = 12.5;
    s.attempts = 1;
    if (mode === 'upstream500') {
      s.upstreamStatus = 500;
      s.upstreamError = 'status_5xx';
      settle(s);
      throw new UpstreamError('The upstream model server answered 500.');
    }
    s.upstreamStatus = 200;
    s.cache = 'miss';
    s.promptTokens = 7;
    s.completionTokens = 3;
    if (mode !== 'stream' && mode !== 'endless') {
      settle(s);
      return reply.type('application/json').send('{"ok":true}');
    }
    const out = new PassThrough();
    out.write('data: {"a":1}\n\n');
    s.ttftMs = 1;
    if (mode === 'stream') {
      releaseStream = () => {
        s.stream = 'completed';
        settle(s);
        out.end('data: [DONE]\n\n');
      };
    } else {
      reply.raw.on('close', () => settle({ ...s, stream: 'client_closed' }));
    }
    return reply.type('text/event-stream').send(out);
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
});

afterAll(() => app.close());

beforeEach(() => {
  lines.length = 0;
  lifecycle.draining = false;
});

const access = (id: string) => lines.filter((l) => l.reqId === id);

async function post(mode: string, id: string) {
  return fetch(`${base}${CHAT}`, { method: 'POST', headers: { 'x-mode': mode, 'x-request-id': id }, body: '{}' });
}

async function until(check: () => boolean, what: string) {
  const deadline = Date.now() + 2000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function scrape() {
  return parseProm(await metrics.registry.metrics());
}

describe('the access log', () => {
  it('writes one info line per answered request with the fields operators need', async () => {
    const res = await post('json', 'r-json');
    expect(res.status).toBe(200);
    await res.text();
    await until(() => access('r-json').length > 0, 'the access line');
    const [line, ...more] = access('r-json');
    expect(more).toEqual([]);
    expect(line).toMatchObject({
      level: 'info',
      msg: 'request completed',
      reqId: 'r-json',
      keyId: 'key-1',
      route: CHAT,
      method: 'POST',
      status: 200,
      model: 'gpt-4o',
      upstreamMs: 12.5,
      promptTokens: 7,
      completionTokens: 3,
      cache: 'miss',
      retries: 0,
      upstreamStatus: 200,
    });
    expect(line.latencyMs).toBeGreaterThan(0);
    expect(line).not.toHaveProperty('err');
  });

  it('logs a stream when it ends, not when it starts', async () => {
    const res = await post('stream', 'r-stream');
    const reader = res.body!.getReader();
    await reader.read();
    await new Promise((r) => setTimeout(r, 30));
    expect(access('r-stream')).toEqual([]);
    releaseStream!();
    while (!(await reader.read()).done);
    await until(() => access('r-stream').length > 0, 'the access line');
    expect(access('r-stream')).toEqual([expect.objectContaining({ status: 200, stream: 'completed', ttftMs: 1 })]);
  });

  it('logs a caller hanging up mid-stream once, as 499, and counts the request out', async () => {
    await new Promise<void>((resolve, reject) => {
      const headers = { 'x-mode': 'endless', 'x-request-id': 'r-gone', 'content-type': 'application/json' };
      const req = httpRequest(`${base}${CHAT}`, { method: 'POST', headers });
      req.on('response', (res) => res.once('data', () => (req.destroy(), resolve())));
      req.on('error', (err) => (err.message.includes('socket hang up') ? undefined : reject(err)));
      req.end('{}');
    });
    await until(() => access('r-gone').length > 0, 'the access line');
    await new Promise((r) => setTimeout(r, 30));
    expect(access('r-gone')).toEqual([expect.objectContaining({ level: 'info', status: 499, msg: 'request aborted by the client' })]);
    const s = await scrape();
    expect(valueOf(s, 'inflight_requests')).toBe(0);
    expect(valueOf(s, 'http_requests_total', { route: CHAT, status: '499' })).toBe(1);
  });

  it('logs a 5xx once, at error, with its cause', async () => {
    expect((await post('boom', 'r-boom')).status).toBe(500);
    expect((await post('upstream500', 'r-up')).status).toBe(502);
    await until(() => access('r-boom').length > 0 && access('r-up').length > 0, 'the access lines');
    const boom = access('r-boom').filter((l) => l.msg === 'request failed');
    expect(boom).toHaveLength(1);
    expect(boom[0]).toMatchObject({ level: 'error', status: 500, err: { message: 'kaboom: connection to 10.0.0.7 refused' } });
    expect(boom[0].err.stack).toMatch(/instrument\.test\.ts/);
    expect(access('r-up')).toEqual([
      expect.objectContaining({
        level: 'error',
        status: 502,
        upstreamStatus: 500,
        upstreamError: 'status_5xx',
        error: { type: 'UpstreamError', message: 'The upstream model server answered 500.', code: 'upstream_error' },
      }),
    ]);
  });

  it('logs 4xx at info, without an error', async () => {
    expect((await post('limited', 'r-429')).status).toBe(429);
    expect((await fetch(`${base}/nowhere`, { headers: { 'x-request-id': 'r-404' } })).status).toBe(404);
    await until(() => access('r-429').length > 0 && access('r-404').length > 0, 'the access lines');
    expect(access('r-429')).toEqual([expect.objectContaining({ level: 'info', status: 429, rateLimited: 'requests' })]);
    expect(access('r-404')).toEqual([expect.objectContaining({ level: 'info', status: 404, route: 'unmatched' })]);
    expect(access('r-429')[0]).not.toHaveProperty('err');
    expect(access('r-429')[0]).not.toHaveProperty('error');
  });

  it('logs and counts the 503s answered while draining', async () => {
    lifecycle.draining = true;
    const before = valueOf(await scrape(), 'http_requests_total', { route: '/health', status: '503' });
    expect((await fetch(`${base}/health`, { headers: { 'x-request-id': 'r-drain' } })).status).toBe(503);
    await until(() => access('r-drain').length > 0, 'the access line');
    expect(access('r-drain')).toEqual([expect.objectContaining({ status: 503, route: '/health' })]);
    expect(valueOf(await scrape(), 'http_requests_total', { route: '/health', status: '503' })).toBe(before + 1);
  });
});
