import { UpstreamClientError, UpstreamError, UpstreamTimeoutError, InvalidRequestError } from '../../../app/errors';
import { buildRoutes, createRouter, orderDeployments, type Deployment } from '../../../app/routing/router';
import { parseRoutingDocument } from '../../../app/routing/document';
import type { ProviderAdapter } from '../../../app/providers/types';
import { chatCompletion, fakeProvider, json, type FakeProvider } from '../../support/fake-provider';

const ok = json(chatCompletion());
const req = () => ({ surface: 'chat' as const, body: { model: 'x', messages: [] }, stream: false, signal: new AbortController().signal, headers: {} });
const trace = () => ({ attempts: 0, upstreamMs: 0 });
const tooMany = (retryAfter?: string) =>
  new UpstreamClientError(429, { error: { message: 'slow down', type: 'rate_limit_error', param: null, code: null } }, retryAfter ? { 'retry-after': retryAfter } : {});

function setup(models: Record<string, unknown>, providers: Record<string, FakeProvider>, maxAttempts = 3) {
  const doc = parseRoutingDocument({
    providers: Object.fromEntries(Object.keys(providers).map((n) => [n, { type: 'mock' }])),
    models,
  });
  const byName = new Map<string, ProviderAdapter>(Object.entries(providers));
  return createRouter({ routes: buildRoutes(doc, byName), maxAttempts, maxInflightPerProvider: 100, retryBaseMs: 1 });
}

describe('router', () => {
  it('resolves exact names, then `*`, and nothing without `*`', () => {
    const a = fakeProvider('a', [ok]);
    const r = setup({ m: { deployments: [{ provider: 'a' }] }, '*': { deployments: [{ provider: 'a' }] } }, { a });
    expect(r.resolve('m')?.route.name).toBe('m');
    expect(r.resolve('other')?.route.name).toBe('*');
    expect(r.resolve('*')).toBeUndefined();
    const strict = setup({ m: { deployments: [{ provider: 'a' }] } }, { a });
    expect(strict.resolve('other')).toBeUndefined();
    expect(strict.names()).toEqual([{ name: 'm', ownedBy: 'a' }]);
  });

  it("asks each deployment for its own model id, and `*` for the caller's name", async () => {
    const a = fakeProvider('a', [ok]);
    const r = setup({ m: { deployments: [{ provider: 'a', model: 'provider-id' }] }, '*': { deployments: [{ provider: 'a' }] } }, { a });
    await r.send(r.resolve('m')!, req(), 10, trace());
    await r.send(r.resolve('gpt-x')!, req(), 10, trace());
    expect(a.calls.map((c) => c.model)).toEqual(['provider-id', 'gpt-x']);
  });

  it('orders by priority, then by weight', () => {
    const d = (id: string, priority: number, weight: number) => ({ id, priority, weight }) as unknown as Deployment;
    const list = [d('low', 1, 1), d('heavy', 0, 9), d('light', 0, 1)];
    const counts: Record<string, number> = { heavy: 0, light: 0 };
    let seed = 1;
    const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    for (let i = 0; i < 2000; i++) {
      const order = orderDeployments(list, random).map((x) => x.id);
      expect(order[2]).toBe('low');
      counts[order[0]]++;
    }
    expect(counts.heavy / 2000).toBeGreaterThan(0.85);
    expect(counts.light).toBeGreaterThan(100);
  });

  it.each([
    ['a 500', new UpstreamError('boom', 500)],
    ['a connection error', new UpstreamError('down')],
    ['a timeout', new UpstreamTimeoutError()],
    ['a 429', tooMany()],
  ])('after %s on the primary, the secondary serves', async (_, err) => {
    const a = fakeProvider('a', [err]);
    const b = fakeProvider('b', [ok]);
    const r = setup({ m: { deployments: [{ provider: 'a', priority: 0 }, { provider: 'b', priority: 1 }] } }, { a, b });
    const t = trace();
    const routed = await r.send(r.resolve('m')!, req(), 10, t);
    expect(routed.deployment.id).toBe('m#1');
    expect(t.attempts).toBe(2);
    expect(a.calls).toHaveLength(1);
  });

  it('then the fallbacks, in order', async () => {
    const a = fakeProvider('a', [new UpstreamError('x', 503)]);
    const b = fakeProvider('b', [ok]);
    const r = setup({ m: { deployments: [{ provider: 'a' }], fallbacks: ['n'] }, n: { deployments: [{ provider: 'b', model: 'n-id' }] } }, { a, b });
    const routed = await r.send(r.resolve('m')!, req(), 10, trace());
    expect(routed.model).toBe('n-id');
    expect(b.calls[0].model).toBe('n-id');
  });

  it('reaches the deployments of a route and its fallbacks under the names send asks them for, with their prices', async () => {
    const a = fakeProvider('a', [new UpstreamError('x', 503)]);
    const b = fakeProvider('b', [ok]);
    const r = setup(
      {
        'gpt-4o-mini': { deployments: [{ provider: 'a' }, { provider: 'a', model: 'gpt-4o-mini-2024-07-18' }], fallbacks: ['gpt-4o'] },
        'gpt-4o': { deployments: [{ provider: 'b', price: { input: 5, output: 20 } }] },
        '*': { deployments: [{ provider: 'b' }] },
      },
      { a, b },
    );
    const plan = r.resolve('gpt-4o-mini')!;
    // A fallback's deployments are asked for under the fallback's name, not the caller's.
    expect(r.reachable(plan)).toEqual([
      { model: 'gpt-4o-mini', price: undefined },
      { model: 'gpt-4o-mini-2024-07-18', price: undefined },
      { model: 'gpt-4o', price: { input: 5, output: 20 } },
    ]);
    const routed = await r.send(plan, req(), 10, trace());
    expect(r.reachable(plan).map((c) => c.model)).toContain(routed.model);
  });

  it('never calls more than maxAttempts times, however many deployments fail', async () => {
    const a = fakeProvider('a', [new UpstreamError('x', 500)]);
    const b = fakeProvider('b', [new UpstreamError('x', 500)]);
    const r = setup({ m: { deployments: [{ provider: 'a' }, { provider: 'b' }], fallbacks: ['n'] }, n: { deployments: [{ provider: 'a' }] } }, { a, b }, 3);
    const t = trace();
    await expect(r.send(r.resolve('m')!, req(), 10, t)).rejects.toBeInstanceOf(UpstreamError);
    expect(a.calls.length + b.calls.length).toBe(3);
    expect(t).toMatchObject({ attempts: 3, upstreamError: 'status_5xx', upstreamStatus: 500 });
  });

  it('retries a single deployment, up to the bound', async () => {
    const a = fakeProvider('a', [new UpstreamError('x'), new UpstreamError('x'), ok]);
    const r = setup({ m: { deployments: [{ provider: 'a' }] } }, { a }, 3);
    const t = trace();
    await r.send(r.resolve('m')!, req(), 10, t);
    expect(t.attempts).toBe(3);
  });

  it('does not retry what the caller got wrong (a 400)', async () => {
    const bad = new UpstreamClientError(400, { error: { message: 'bad', type: 'invalid_request_error', param: 'x', code: null } });
    const a = fakeProvider('a', [bad]);
    const b = fakeProvider('b', [ok]);
    const r = setup({ m: { deployments: [{ provider: 'a', priority: 0 }, { provider: 'b', priority: 1 }] } }, { a, b });
    await expect(r.send(r.resolve('m')!, req(), 10, trace())).rejects.toBe(bad);
    expect(b.calls).toHaveLength(0);
    const invalid = fakeProvider('c', [new InvalidRequestError('unsupported field', 'store')]);
    const r2 = setup({ m: { deployments: [{ provider: 'c' }] } }, { c: invalid });
    await expect(r2.send(r2.resolve('m')!, req(), 10, trace())).rejects.toBeInstanceOf(InvalidRequestError);
    expect(invalid.calls).toHaveLength(1);
  });

  it('a 429 with retry-after cools the deployment down: later requests skip it without calling', async () => {
    const a = fakeProvider('a', [tooMany('20')]);
    const b = fakeProvider('b', [ok]);
    const r = setup({ m: { deployments: [{ provider: 'a', priority: 0 }, { provider: 'b', priority: 1 }] } }, { a, b });
    await r.send(r.resolve('m')!, req(), 10, trace());
    for (let i = 0; i < 5; i++) await r.send(r.resolve('m')!, req(), 10, trace());
    expect(a.calls).toHaveLength(1);
    expect(b.calls).toHaveLength(6);
  });

  it('with every deployment cooling down: 503 with retry-after, no call', async () => {
    const a = fakeProvider('a', [tooMany('30')]);
    const r = setup({ m: { deployments: [{ provider: 'a' }] } }, { a });
    await expect(r.send(r.resolve('m')!, req(), 10, trace())).rejects.toMatchObject({ status: 429 });
    const err = await r.send(r.resolve('m')!, req(), 10, trace()).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 503, code: 'upstream_unavailable' });
    expect((err as { headers: Record<string, string> }).headers['retry-after']).toBe('30');
    expect(a.calls).toHaveLength(1);
  });

  it('a 500 storm opens the circuit: the provider sees a bounded number of calls', async () => {
    const a = fakeProvider('a', [new UpstreamError('x', 500)]);
    const r = setup({ m: { deployments: [{ provider: 'a' }] } }, { a }, 3);
    for (let i = 0; i < 50; i++) await r.send(r.resolve('m')!, req(), 10, trace()).catch(() => undefined);
    // 5 failures open the circuit: the first request's 3 attempts, then 2 of the second's.
    expect(a.calls).toHaveLength(5);
  });

  it('skips a deployment whose own limits are spent', async () => {
    const a = fakeProvider('a', [ok]);
    const b = fakeProvider('b', [ok]);
    const doc = parseRoutingDocument({
      providers: { a: { type: 'mock' }, b: { type: 'mock' } },
      models: { m: { deployments: [{ provider: 'a', rpm: 1 }, { provider: 'b', priority: 1 }] } },
    });
    const seen: string[] = [];
    const r = createRouter({
      routes: buildRoutes(doc, new Map<string, ProviderAdapter>([['a', a], ['b', b]])),
      maxAttempts: 3,
      maxInflightPerProvider: 100,
      limitDeployment: async (d) => {
        seen.push(d.id);
        return { allowed: seen.length === 1, retryAfterMs: 1000 };
      },
    });
    await r.send(r.resolve('m')!, req(), 10, trace());
    await r.send(r.resolve('m')!, req(), 10, trace());
    expect(a.calls).toHaveLength(1);
    expect(b.calls).toHaveLength(1);
  });

  it('sheds with 503 when a provider has too many calls in flight', async () => {
    const a = fakeProvider('a', [ok]);
    const doc = parseRoutingDocument({ providers: { a: { type: 'mock' } }, models: { m: { deployments: [{ provider: 'a' }] } } });
    const r = createRouter({ routes: buildRoutes(doc, new Map([['a', a as ProviderAdapter]])), maxAttempts: 3, maxInflightPerProvider: 1 });
    const first = await r.send(r.resolve('m')!, req(), 10, trace());
    await expect(r.send(r.resolve('m')!, req(), 10, trace())).rejects.toMatchObject({ status: 503, code: 'upstream_saturated' });
    first.release();
    await expect(r.send(r.resolve('m')!, req(), 10, trace())).resolves.toBeDefined();
  });
});
