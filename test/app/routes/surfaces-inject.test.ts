/**
 * The v1 routes over `app.inject()`: buildApp with in-process stores and a scripted provider, so the
 * route plugins, auth, error shapes and CORS are checked without a process or a socket.
 */
import type { FastifyInstance } from 'fastify';
import { buildApp, type AppDeps } from '../../../app/app';
import { loadConfig } from '../../../app/config';
import { createLogger } from '../../../app/lib/logger';
import { createPipeline } from '../../../app/pipeline/pipeline';
import type { ProviderAdapter } from '../../../app/providers/types';
import { parseRoutingDocument } from '../../../app/routing/document';
import { buildRoutes, createRouter } from '../../../app/routing/router';
import { createAuthThrottle } from '../../../app/security/auth-throttle';
import { createConnectionLimit } from '../../../app/security/connections';
import { createScrubber } from '../../../app/security/scrub';
import { createAuthenticator } from '../../../app/services/authenticator';
import { createModelCatalog } from '../../../app/services/models';
import { createMemoryCache } from '../../../app/stores/cache-memory';
import { hashKey, type KeyStore } from '../../../app/stores/keys';
import { createMemoryLimiter } from '../../../app/stores/limiter-memory';
import type { ObjectOwner, ObjectOwners } from '../../../app/stores/object-owners';
import type { ApiKeyRecord } from '../../../app/stores/types';
import { keyRecord } from '../../support/fixtures';
import { chatCompletion, fakeProvider, json } from '../../support/fake-provider';

const KEY_A = 'sk-llm-inject-key-a-000000000000';
const KEY_B = 'sk-llm-inject-key-b-000000000000';
const KEY_SLOW = 'sk-llm-inject-key-slow-000000000';
const records = new Map<string, ApiKeyRecord>([
  [hashKey(KEY_A), keyRecord({ name: 'a' })],
  [hashKey(KEY_B), keyRecord({ name: 'b', models: ['gpt-4o'] })],
  [hashKey(KEY_SLOW), keyRecord({ name: 'slow', rpm: 3 })],
]);

const objectCalls: Array<{ method: string; path: string; body?: string }> = [];

function build(env: Record<string, string> = {}): FastifyInstance {
  const config = loadConfig({ ADMIN_API_KEY: 'admin-inject-0123456789', ...env });
  const provider = fakeProvider('p', [
    async (req) =>
      req.surface === 'responses'
        ? json({ id: 'resp_a1', object: 'response', status: 'completed', output: [], usage: { input_tokens: 1, output_tokens: 1, total_tokens: 2 } })
        : json(chatCompletion()),
  ]);
  provider.objectRequest = async (req) => {
    objectCalls.push({ method: req.method, path: req.path, body: req.body });
    return json(req.path.startsWith('/chat/') ? chatCompletion() : { id: 'resp_a1', object: 'response', status: 'completed', output: [] });
  };
  const doc = parseRoutingDocument({
    providers: { p: { type: 'mock' } },
    models: { 'gpt-4o': { deployments: [{ provider: 'p' }] }, 'claude-x': { deployments: [{ provider: 'p' }] } },
  });
  const router = createRouter({ routes: buildRoutes(doc, new Map<string, ProviderAdapter>([['p', provider]])), maxAttempts: 3, maxInflightPerProvider: 100 });
  const owned = new Map<string, ObjectOwner>();
  const owners: ObjectOwners = {
    remember: (id, o) => void owned.set(id, o),
    owner: async (id) => owned.get(id) ?? null,
    forget: async (id) => void owned.delete(id),
    deleteOlderThan: async () => 0,
  };
  const keys = { findByHash: async (h: string) => records.get(h) ?? null } as unknown as KeyStore;
  const scrubber = createScrubber({ secrets: [] });
  const limiter = createMemoryLimiter({});
  const deps: AppDeps = {
    config,
    logger: createLogger('silent'),
    lifecycle: { draining: false },
    authenticator: createAuthenticator({ keys, ttlMs: 1000 }),
    keys,
    teams: {} as AppDeps['teams'],
    pipeline: createPipeline({
      router,
      limiter,
      limits: { rpm: 1000, tpm: 1_000_000 },
      cache: createMemoryCache({ maxEntryBytes: 1 << 20 }),
      cacheTtlSeconds: 60,
      usage: { record: () => undefined },
      owners,
      defaultCompletionReserve: 1024,
      scrubber,
      onBackgroundError: (err) => {
        throw err;
      },
    }),
    router,
    owners,
    models: createModelCatalog({ router }),
    usage: {} as AppDeps['usage'],
    readiness: { check: async () => ({ ready: true, checks: {} as never }) },
    secrets: [],
    authThrottle: createAuthThrottle({ maxFailures: 100, windowMs: 60_000 }),
    connections: createConnectionLimit({ max: 1000 }),
  };
  return buildApp(deps);
}

const auth = (key: string) => ({ authorization: `Bearer ${key}`, 'content-type': 'application/json' });

describe('v1 routes through app.inject()', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = build();
    await app.ready();
  });
  afterAll(() => app.close());

  it('chat: a completion with the rate-limit and cache headers', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/chat/completions', headers: auth(KEY_A), payload: { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ object: 'chat.completion' });
    expect(res.headers).toMatchObject({ 'x-cache': 'BYPASS', 'x-ratelimit-limit-requests': '1000' });
  });

  it('an unknown model is 404 model_not_found; a model outside the allow-list 403', async () => {
    const unknown = await app.inject({ method: 'POST', url: '/v1/chat/completions', headers: auth(KEY_A), payload: { model: 'nope', messages: [{ role: 'user', content: 'hi' }] } });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().error).toMatchObject({ code: 'model_not_found' });
    const denied = await app.inject({ method: 'POST', url: '/v1/chat/completions', headers: auth(KEY_B), payload: { model: 'claude-x', messages: [{ role: 'user', content: 'hi' }] } });
    expect(denied.statusCode).toBe(403);
  });

  it('a response id belongs to the key that created it', async () => {
    const created = await app.inject({ method: 'POST', url: '/v1/responses', headers: auth(KEY_A), payload: { model: 'gpt-4o', input: 'hi' } });
    expect(created.statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/v1/responses/resp_a1', headers: auth(KEY_A) })).statusCode).toBe(200);
    for (const [method, url] of [
      ['GET', '/v1/responses/resp_a1'],
      ['DELETE', '/v1/responses/resp_a1'],
      ['POST', '/v1/responses/resp_a1/cancel'],
      ['GET', '/v1/responses/resp_a1/input_items'],
    ] as const) {
      const res = await app.inject({ method, url, headers: auth(KEY_B) });
      expect({ method, url, status: res.statusCode }).toEqual({ method, url, status: 404 });
    }
    const chained = await app.inject({ method: 'POST', url: '/v1/responses', headers: auth(KEY_B), payload: { model: 'gpt-4o', input: 'x', previous_response_id: 'resp_a1' } });
    expect(chained.statusCode).toBe(404);
  });

  it('a chat completion stored with store: true belongs to the key that created it', async () => {
    const ask = { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] };
    await app.inject({ method: 'POST', url: '/v1/chat/completions', headers: auth(KEY_A), payload: ask });
    // Not stored: no one's.
    expect((await app.inject({ method: 'GET', url: '/v1/chat/completions/chatcmpl-1', headers: auth(KEY_A) })).statusCode).toBe(404);
    await app.inject({ method: 'POST', url: '/v1/chat/completions', headers: auth(KEY_A), payload: { ...ask, store: true } });
    objectCalls.length = 0;
    const calls = [
      ['GET', '/v1/chat/completions/chatcmpl-1'],
      ['POST', '/v1/chat/completions/chatcmpl-1'],
      ['GET', '/v1/chat/completions/chatcmpl-1/messages?limit=5'],
      ['DELETE', '/v1/chat/completions/chatcmpl-1'],
    ] as const;
    const update = { metadata: { topic: 'x' } };
    for (const [method, url] of calls) {
      const res = await app.inject({ method, url, headers: auth(KEY_B), ...(method === 'POST' ? { payload: update } : {}) });
      expect({ method, url, status: res.statusCode }).toEqual({ method, url, status: 404 });
    }
    expect(objectCalls).toEqual([]);
    for (const [method, url] of calls) {
      const res = await app.inject({ method, url, headers: auth(KEY_A), ...(method === 'POST' ? { payload: update } : {}) });
      expect({ method, url, status: res.statusCode }).toEqual({ method, url, status: 200 });
    }
    expect(objectCalls).toEqual([
      { method: 'GET', path: '/chat/completions/chatcmpl-1', body: undefined },
      { method: 'POST', path: '/chat/completions/chatcmpl-1', body: JSON.stringify(update) },
      { method: 'GET', path: '/chat/completions/chatcmpl-1/messages?limit=5', body: undefined },
      { method: 'DELETE', path: '/chat/completions/chatcmpl-1', body: undefined },
    ]);
    // Deleted: forgotten.
    expect((await app.inject({ method: 'GET', url: '/v1/chat/completions/chatcmpl-1', headers: auth(KEY_A) })).statusCode).toBe(404);
  });

  it('calls on stored objects count against the key\'s rpm, probes of other keys\' ids included', async () => {
    await app.inject({ method: 'POST', url: '/v1/responses', headers: auth(KEY_SLOW), payload: { model: 'gpt-4o', input: 'hi' } });
    const own = await app.inject({ method: 'GET', url: '/v1/responses/resp_a1', headers: auth(KEY_SLOW) });
    expect(own.statusCode).toBe(200);
    expect(own.headers['x-ratelimit-limit-requests']).toBe('3');
    expect((await app.inject({ method: 'GET', url: '/v1/chat/completions/not-mine', headers: auth(KEY_SLOW) })).statusCode).toBe(404);
    objectCalls.length = 0;
    const refused = await app.inject({ method: 'GET', url: '/v1/responses/resp_a1', headers: auth(KEY_SLOW) });
    expect(refused.statusCode).toBe(429);
    expect(refused.headers['retry-after']).toBeDefined();
    expect(objectCalls).toEqual([]);
  });

  it('/v1/messages answers errors in Anthropic\'s shape, authentication included', async () => {
    const noKey = await app.inject({ method: 'POST', url: '/v1/messages', headers: { 'content-type': 'application/json' }, payload: {} });
    expect(noKey.statusCode).toBe(401);
    expect(noKey.json()).toMatchObject({ type: 'error', error: { type: 'authentication_error' } });
    const bad = await app.inject({ method: 'POST', url: '/v1/messages', headers: { 'x-api-key': KEY_A, 'content-type': 'application/json' }, payload: { model: 'gpt-4o' } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
  });

  it('/v1/models and /v1/models/{id} follow the allow-list', async () => {
    const all = await app.inject({ method: 'GET', url: '/v1/models', headers: auth(KEY_A) });
    expect(all.json().data.map((m: { id: string }) => m.id).sort()).toEqual(['claude-x', 'gpt-4o']);
    const narrow = await app.inject({ method: 'GET', url: '/v1/models', headers: auth(KEY_B) });
    expect(narrow.json().data.map((m: { id: string }) => m.id)).toEqual(['gpt-4o']);
    expect((await app.inject({ method: 'GET', url: '/v1/models/claude-x', headers: auth(KEY_B) })).statusCode).toBe(404);
    expect((await app.inject({ method: 'GET', url: '/v1/models/claude-x', headers: auth(KEY_A) })).json()).toMatchObject({ id: 'claude-x', owned_by: 'p' });
  });
});

describe('CORS', () => {
  it('is off by default and answers a preflight for an allowed origin with CORS_ORIGINS', async () => {
    const off = build();
    const pre = { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' };
    expect((await off.inject({ method: 'OPTIONS', url: '/v1/chat/completions', headers: pre })).headers['access-control-allow-origin']).toBeUndefined();
    await off.close();
    const on = build({ CORS_ORIGINS: 'https://app.example, https://other.example' });
    const res = await on.inject({ method: 'OPTIONS', url: '/v1/chat/completions', headers: pre });
    expect(res.statusCode).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe('https://app.example');
    const other = await on.inject({ method: 'OPTIONS', url: '/v1/chat/completions', headers: { ...pre, origin: 'https://evil.example' } });
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
    await on.close();
  });
});
