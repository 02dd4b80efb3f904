/**
 * The admin routes for teams, key changes and usage reports, and the caller's GET /v1/key, on a
 * listening app (jest cannot load inject()'s ESM cookie parser) over a real Postgres.
 */
import { createAuthThrottle } from '../../../app/security/auth-throttle';
import { createScrubber } from '../../../app/security/scrub';
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { requireAdmin, requireClientKey } from '../../../app/plugins/auth';
import { errorHandler } from '../../../app/plugins/error-handler';
import { requestContext } from '../../../app/plugins/request-context';
import { adminKeysRoutes } from '../../../app/routes/admin/keys';
import { adminTeamsRoutes } from '../../../app/routes/admin/teams';
import { adminUsageRoute } from '../../../app/routes/admin/usage';
import { keyRoute } from '../../../app/routes/v1/key';
import { createAuthenticator } from '../../../app/services/authenticator';
import { createKeyStore } from '../../../app/stores/keys';
import { createTeamStore } from '../../../app/stores/teams';
import type { UsageRecord } from '../../../app/stores/types';
import { createUsageQuery } from '../../../app/stores/usage-query';
import { createUsageRecorder } from '../../../app/stores/usage-recorder';
import { createTestDatabase, type TestDatabase } from '../../support/test-db';

const ADMIN = 'admin-secret';
const NOW = Date.parse('2031-05-15T12:00:00Z');
let t: TestDatabase;
let app: FastifyInstance;
let base: string;

beforeAll(async () => {
  t = await createTestDatabase();
  const keys = createKeyStore({ db: t.db });
  const usage = createUsageQuery({ db: t.db });
  app = Fastify();
  requestContext(app, { draining: false });
  errorHandler(app, { bodyLimit: 1_000_000, scrubber: createScrubber({ secrets: [ADMIN] }) });
  const throttle = createAuthThrottle({ maxFailures: 1000, windowMs: 60_000 });
  app.register(async (v1) => {
    v1.addHook('onRequest', requireClientKey(createAuthenticator({ keys, ttlMs: 0 }), throttle));
    keyRoute(v1, { usage, limits: { rpm: 60, tpm: 100_000 }, now: () => NOW });
  });
  app.register(async (admin) => {
    admin.addHook('onRequest', requireAdmin(ADMIN, throttle));
    adminKeysRoutes(admin, keys);
    adminTeamsRoutes(admin, createTeamStore({ db: t.db }));
    adminUsageRoute(admin, usage);
  });
  base = await app.listen({ port: 0, host: '127.0.0.1' });
});
afterAll(async () => {
  await app.close();
  await t.drop();
});

async function call(method: string, url: string, authorization?: string, body?: unknown) {
  const headers: Record<string, string> = body === undefined ? {} : { 'content-type': 'application/json' };
  if (authorization) headers.authorization = `Bearer ${authorization}`;
  const res = await fetch(`${base}${url}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return {
    status: res.status,
    json: text && res.headers.get('content-type')?.startsWith('application/json') ? (JSON.parse(text) as Record<string, any>) : undefined,
    text,
    headers: res.headers,
  };
}
const admin = (method: string, url: string, body?: unknown) => call(method, url, ADMIN, body);

function row(keyId: string, teamId: string | null, model: string, costUsd: number | null, at: string, over: Partial<UsageRecord> = {}): UsageRecord {
  return {
    keyId, teamId, model, costUsd, promptTokens: 100, completionTokens: 50, cachedInputTokens: 10, cacheWriteTokens: 0,
    reasoningTokens: 5, estimated: false, cached: false, status: 200, upstreamMs: 1, totalMs: 1, requestId: randomUUID(),
    createdAt: new Date(at), ...over,
  };
}

describe('admin teams', () => {
  it('creates, lists, reads, changes and deletes a team', async () => {
    const created = await admin('POST', '/admin/teams', { name: 'research', monthly_budget_usd: 100, daily_budget_usd: 5, rpm: 30, models: ['gpt-4o'] });
    expect(created.status).toBe(201);
    expect(created.json).toEqual({
      id: expect.any(String),
      object: 'team',
      name: 'research',
      rpm: 30,
      tpm: null,
      monthly_budget_usd: 100,
      daily_budget_usd: 5,
      models: ['gpt-4o'],
      created_at: expect.any(String),
    });
    const id = created.json!.id as string;
    expect((await admin('GET', '/admin/teams')).json!.data.map((x: { id: string }) => x.id)).toContain(id);
    expect((await admin('GET', `/admin/teams/${id}`)).json).toEqual(created.json);
    const changed = await admin('PATCH', `/admin/teams/${id}`, { daily_budget_usd: null, tpm: 1000 });
    expect(changed.json).toMatchObject({ daily_budget_usd: null, tpm: 1000, monthly_budget_usd: 100 });
    expect((await admin('DELETE', `/admin/teams/${id}`)).status).toBe(204);
    expect((await admin('GET', `/admin/teams/${id}`)).status).toBe(404);
  });

  it.each([
    [{ monthly_budget_usd: -1 }, 'monthly_budget_usd'],
    [{ rpm: 0 }, 'rpm'],
    [{ models: [] }, 'models'],
  ])('refuses a bad body %p naming the field', async (body, param) => {
    const res = await admin('POST', '/admin/teams', { name: 'x', ...body });
    expect(res.status).toBe(400);
    expect(res.json!.error).toMatchObject({ type: 'invalid_request_error', param });
  });

  it('refuses a misspelt PATCH field rather than changing nothing', async () => {
    const { json } = await admin('POST', '/admin/teams', { name: 'typo' });
    const res = await admin('PATCH', `/admin/teams/${json!.id}`, { monthly_budget: 5 });
    expect(res.status).toBe(400);
  });

  it('refuses to delete a team that still has live keys', async () => {
    const team = (await admin('POST', '/admin/teams', { name: 'busy' })).json!;
    await admin('POST', '/admin/keys', { name: 'member', team_id: team.id });
    const res = await admin('DELETE', `/admin/teams/${team.id}`);
    expect(res.status).toBe(400);
    expect(res.json!.error).toMatchObject({ code: 'team_not_empty' });
  });

  it('answers 404 for unknown ids', async () => {
    expect((await admin('GET', `/admin/teams/${randomUUID()}`)).status).toBe(404);
    expect((await admin('PATCH', '/admin/teams/nope', { name: 'x' })).status).toBe(404);
    expect((await admin('DELETE', `/admin/teams/${randomUUID()}`)).status).toBe(404);
  });
});

describe('admin keys with teams and dollar budgets', () => {
  it('creates a key in a team with budgets, then PATCHes it', async () => {
    const team = (await admin('POST', '/admin/teams', { name: 'ops' })).json!;
    const created = await admin('POST', '/admin/keys', { name: 'k', team_id: team.id, monthly_budget_usd: 20, daily_budget_usd: 1.5 });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ team_id: team.id, monthly_budget_usd: 20, daily_budget_usd: 1.5, key: expect.stringMatching(/^sk-llm-/) });
    const patched = await admin('PATCH', `/admin/keys/${created.json!.id}`, { team_id: null, daily_budget_usd: 2, rpm: 7 });
    expect(patched.status).toBe(200);
    expect(patched.json).toMatchObject({ team_id: null, daily_budget_usd: 2, monthly_budget_usd: 20, rpm: 7 });
    expect(patched.json).not.toHaveProperty('key');
  });

  it('refuses an unknown team as a 400 on team_id, and an unknown key as a 404', async () => {
    const res = await admin('POST', '/admin/keys', { name: 'k', team_id: randomUUID() });
    expect(res.status).toBe(400);
    expect(res.json!.error).toMatchObject({ param: 'team_id' });
    expect((await admin('PATCH', `/admin/keys/${randomUUID()}`, { rpm: 1 })).status).toBe(404);
  });
});

describe('admin usage reports', () => {
  const teamA = randomUUID();
  const keyA = randomUUID();
  const keyB = randomUUID();
  beforeAll(async () => {
    const recorder = createUsageRecorder({ db: t.db, onError: (e) => { throw e; }, onDropped: () => undefined });
    recorder.record(row(keyA, teamA, 'gpt-4o', 0.25, '2031-04-01T10:00:00Z'));
    recorder.record(row(keyA, teamA, 'gpt-4o', 0.125, '2031-04-02T10:00:00Z'));
    recorder.record(row(keyB, null, 'local, "quoted"', null, '2031-04-02T11:00:00Z'));
    recorder.record(row(keyB, null, '=cmd', 0.5, '2031-04-03T11:00:00Z'));
    await recorder.close();
  });

  it('groups by team as JSON, with cost', async () => {
    const res = await admin('GET', '/admin/usage?group_by=team&since=2031-04-01&until=2031-05-01');
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ requests: 4, cost_usd: 0.875, unpriced_requests: 1, group_by: 'team' });
    expect(res.json!.groups).toEqual([
      expect.objectContaining({ team_id: null, requests: 2, cost_usd: 0.5, unpriced_requests: 1 }),
      expect.objectContaining({ team_id: teamA, requests: 2, cost_usd: 0.375, reasoning_tokens: 10, cached_input_tokens: 20 }),
    ]);
  });

  it('answers CSV, quoting what needs quoting and defusing formulas', async () => {
    const res = await admin('GET', '/admin/usage?group_by=model&format=csv&since=2031-04-01&until=2031-05-01');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(res.text.split('\r\n')).toEqual([
      'model,requests,prompt_tokens,completion_tokens,total_tokens,cached_requests,cached_input_tokens,cache_write_tokens,reasoning_tokens,cost_usd,unpriced_requests',
      "'=cmd,1,100,50,150,0,10,0,5,0.5,0",
      'gpt-4o,2,200,100,300,0,20,0,10,0.375,0',
      '"local, ""quoted""",1,100,50,150,0,10,0,5,0,1',
      '',
    ]);
  });

  it('filters by team, key, model and days', async () => {
    expect((await admin('GET', `/admin/usage?team_id=${teamA}`)).json).toMatchObject({ requests: 2, cost_usd: 0.375 });
    expect((await admin('GET', `/admin/usage?key_id=${keyB}&model=%3Dcmd`)).json).toMatchObject({ requests: 1 });
    expect((await admin('GET', `/admin/usage?key_id=${keyA}&since=2031-04-02`)).json).toMatchObject({ requests: 1, cost_usd: 0.125 });
    const byDay = (await admin('GET', `/admin/usage?key_id=${keyA}&group_by=day`)).json!;
    expect(byDay.groups.map((g: { day: string }) => g.day)).toEqual(['2031-04-01', '2031-04-02']);
  });

  it.each([
    ['group_by=week', 'group_by'],
    ['format=xml', 'format'],
    ['team_id=nope', 'team_id'],
  ])('refuses %s naming the parameter', async (q, param) => {
    const res = await admin('GET', `/admin/usage?${q}`);
    expect(res.status).toBe(400);
    expect(res.json!.error).toMatchObject({ param });
  });
});

describe('GET /v1/key', () => {
  it("shows the caller its limits, budgets, spend and resets, and its team's, without secrets", async () => {
    const team = (await admin('POST', '/admin/teams', { name: 'viewers', monthly_budget_usd: 10, tpm: 5000, models: ['gpt-4o'] })).json!;
    const created = (await admin('POST', '/admin/keys', { name: 'me', team_id: team.id, daily_budget_usd: 1, monthly_token_budget: 1_000_000 })).json!;
    const recorder = createUsageRecorder({ db: t.db, onError: (e) => { throw e; }, onDropped: () => undefined });
    recorder.record(row(created.id, team.id, 'gpt-4o', 0.3, '2031-05-15T08:00:00Z'));
    recorder.record(row(created.id, team.id, 'gpt-4o', 0.2, '2031-05-02T08:00:00Z'));
    recorder.record(row(randomUUID(), team.id, 'gpt-4o', 4, '2031-05-03T08:00:00Z')); // a teammate
    await recorder.close();

    const res = await call('GET', '/v1/key', created.key);
    expect(res.status).toBe(200);
    const body = res.json;
    expect(body).toEqual({
      object: 'api_key',
      id: created.id,
      name: 'me',
      prefix: created.prefix,
      rpm: 60,
      tpm: 100_000,
      models: null,
      monthly_token_budget: { budget_tokens: 1_000_000, used_tokens: 300, resets_at: '2031-06-01T00:00:00.000Z' },
      budgets: {
        daily: { budget_usd: 1, spent_usd: 0.3, remaining_usd: 0.7, resets_at: '2031-05-16T00:00:00.000Z' },
        monthly: { budget_usd: null, spent_usd: 0.5, remaining_usd: null, resets_at: '2031-06-01T00:00:00.000Z' },
      },
      team: {
        id: team.id,
        name: 'viewers',
        rpm: null,
        tpm: 5000,
        models: ['gpt-4o'],
        budgets: {
          daily: { budget_usd: null, spent_usd: 0.3, remaining_usd: null, resets_at: '2031-05-16T00:00:00.000Z' },
          monthly: { budget_usd: 10, spent_usd: 4.5, remaining_usd: 5.5, resets_at: '2031-06-01T00:00:00.000Z' },
        },
      },
    });
    expect(res.text).not.toContain(created.key);
  });

  it('answers 401 without a key', async () => {
    expect((await call('GET', '/v1/key')).status).toBe(401);
  });
});
