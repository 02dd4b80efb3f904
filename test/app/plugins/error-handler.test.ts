import Fastify, { type FastifyInstance } from 'fastify';
import { InternalError, NotFoundError, UpstreamClientError } from '../../../app/errors';
import { errorHandler } from '../../../app/plugins/error-handler';
import { requestContext } from '../../../app/plugins/request-context';
import { createScrubber } from '../../../app/security/scrub';

const SECRET = 'provider-credential-abcdef';

let app: FastifyInstance;
let base: string;

/** A real round trip (light-my-request's inject cannot load under this jest setup). */
async function call(method: string, path: string) {
  const res = await fetch(`${base}${path}`, { method });
  const body = await res.text();
  return { statusCode: res.status, headers: Object.fromEntries(res.headers), body, json: () => JSON.parse(body) };
}

beforeAll(async () => {
  app = Fastify();
  requestContext(app, { draining: false });
  errorHandler(app, { bodyLimit: 1024, scrubber: createScrubber({ secrets: [SECRET] }) });
  const echoed = { error: { message: `bad key ${SECRET}`, type: SECRET, param: SECRET, code: SECRET } };
  app.post('/openai', async () => {
    throw new UpstreamClientError(400, echoed, { 'retry-after': '3' });
  });
  app.post('/anthropic', { config: { errorShape: 'anthropic' } }, async () => {
    throw new UpstreamClientError(429, echoed);
  });
  app.post('/anthropic-own', { config: { errorShape: 'anthropic' } }, async () => {
    throw new NotFoundError(`No such thing: ${SECRET}`);
  });
  app.get('/boom', async () => {
    throw new InternalError();
  });
  base = await app.listen({ port: 0, host: '127.0.0.1' });
});
afterAll(() => app.close());

describe('error handler: every body through the scrubber', () => {
  it("rebuilds an upstream's echoed error from the allow-list, keeping its headers", async () => {
    const res = await call('POST', '/openai');
    expect(res.statusCode).toBe(400);
    expect(res.headers['retry-after']).toBe('3');
    expect(res.json()).toEqual({ error: { message: 'bad key [redacted]', type: 'invalid_request_error', param: null, code: null } });
  });

  it("answers in Anthropic's shape on routes that say so", async () => {
    expect((await call('POST', '/anthropic')).json()).toEqual({
      type: 'error',
      error: { type: 'rate_limit_error', message: 'bad key [redacted]' },
    });
    expect((await call('POST', '/anthropic-own')).json()).toEqual({
      type: 'error',
      error: { type: 'not_found_error', message: 'No such thing: [redacted]' },
    });
  });

  it('scrubs the 404 of an unknown URL too (a key pasted into a path)', async () => {
    const res = await call('GET', `/v1/${SECRET}/x`);
    expect(res.statusCode).toBe(404);
    expect(res.body).not.toContain(SECRET);
  });

  it('keeps its own errors as they were', async () => {
    expect((await call('GET', '/boom')).json()).toEqual({
      error: { message: 'The server had an error while processing your request.', type: 'api_error', param: null, code: 'internal_error' },
    });
  });
});
