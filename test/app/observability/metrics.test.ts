import { AggregatorRegistry, Registry } from 'prom-client';
import { emptyOutcome as newRequestStats, type CallOutcome as RequestStats } from '../../../app/pipeline/outcome';
import { createGatewayMetrics } from '../../../app/observability/metrics';
import { ModelLabels } from '../../../app/observability/model-labels';
import { requestOutcome } from '../../../app/observability/outcome';
import { parseProm, valueOf } from './prom-text';

function finished(m: ReturnType<typeof createGatewayMetrics>, status: number, stats: Partial<RequestStats>, route = '/v1/chat/completions') {
  m.requestStarted();
  m.requestFinished(requestOutcome(route, 'POST', status, 20, { ...newRequestStats(), ...stats }));
}

async function scrape(m: ReturnType<typeof createGatewayMetrics>) {
  return parseProm(await m.registry.metrics());
}

describe('ModelLabels', () => {
  it('labels a model once the upstream has served it, up to the bound; the rest are other', () => {
    const labels = new ModelLabels({ max: 2 });
    expect(labels.label(undefined, true)).toBe('none');
    expect(labels.label('gpt-typo', false)).toBe('other'); // refused upstream: takes no slot
    expect(labels.label('gpt-4o', true)).toBe('gpt-4o');
    expect(labels.label('gpt-4o', false)).toBe('gpt-4o'); // known models keep their label
    expect(labels.label('gpt-4o-mini', true)).toBe('gpt-4o-mini');
    expect(labels.label('o3', true)).toBe('other');
    expect(labels.label('x'.repeat(101), true)).toBe('other');
    expect(labels.size).toBe(2);
  });

  it('never holds more than the bound, whatever callers send', () => {
    const labels = new ModelLabels();
    for (let i = 0; i < 10_000; i++) labels.label(`model-${i}`, true);
    expect(labels.size).toBe(50);
  });
});

describe('createGatewayMetrics', () => {
  it('exposes every family, bounded label sets starting at zero', async () => {
    const m = createGatewayMetrics({ registry: new Registry() });
    const text = await m.registry.metrics();
    for (const family of [
      'http_requests_total', 'http_request_duration_seconds', 'upstream_request_duration_seconds',
      'upstream_errors_total', 'gateway_overhead_seconds', 'stream_time_to_first_token_seconds', 'tokens_total',
      'cache_requests_total', 'rate_limited_total', 'inflight_requests', 'usage_buffer_depth',
      'usage_rows_dropped_total', 'redis_fallback_total', 'process_cpu_user_seconds_total', 'nodejs_heap_size_used_bytes',
    ]) {
      expect(text).toContain(`# TYPE ${family} `);
    }
    const samples = parseProm(text);
    expect(samples.filter((s) => s.name === 'rate_limited_total').map((s) => s.labels.kind).sort()).toEqual(['budget', 'requests', 'tokens']);
    expect(samples.filter((s) => s.name === 'cache_requests_total').map((s) => s.labels.result).sort()).toEqual(['bypass', 'hit', 'miss']);
  });

  it('records one request into each family it touches', async () => {
    const m = createGatewayMetrics({ registry: new Registry(), defaultMetrics: false });
    finished(m, 200, { model: 'gpt-4o', upstreamStatus: 200, upstreamMs: 15, promptTokens: 7, completionTokens: 3, cache: 'miss', ttftMs: 4, retries: 1 });
    finished(m, 200, { model: 'gpt-4o', cache: 'hit', promptTokens: 7, completionTokens: 3 });
    finished(m, 429, { model: 'gpt-4o', rateLimited: 'tokens' });
    finished(m, 502, { model: 'gpt-4o', upstreamStatus: 500, upstreamError: 'status_5xx', upstreamMs: 5, cache: 'bypass' });
    finished(m, 504, { model: 'gpt-4o', upstreamError: 'timeout', upstreamMs: 19 });
    const s = await scrape(m);
    const chat = { route: '/v1/chat/completions', method: 'POST' };
    expect(valueOf(s, 'http_requests_total', { ...chat, status: '200' })).toBe(2);
    expect(valueOf(s, 'http_request_duration_seconds_count', { ...chat, status: '429' })).toBe(1);
    expect(valueOf(s, 'upstream_request_duration_seconds_count', { provider: 'none', status: '200' })).toBe(1);
    expect(valueOf(s, 'upstream_request_duration_seconds_sum', { provider: 'none', status: '200' })).toBeCloseTo(0.015);
    expect(valueOf(s, 'upstream_request_duration_seconds_count', { status: '500' })).toBe(1);
    expect(valueOf(s, 'upstream_request_duration_seconds_count', { status: 'timeout' })).toBe(1);
    expect(valueOf(s, 'upstream_errors_total', { kind: 'status_5xx' })).toBe(1);
    expect(valueOf(s, 'upstream_errors_total', { kind: 'timeout' })).toBe(1);
    expect(valueOf(s, 'upstream_retries_total')).toBe(1);
    expect(valueOf(s, 'gateway_overhead_seconds_count', { route: '/v1/chat/completions' })).toBe(3);
    expect(valueOf(s, 'gateway_overhead_seconds_sum')).toBeCloseTo((20 - 15 + 20 - 5 + 20 - 19) / 1000);
    expect(valueOf(s, 'stream_time_to_first_token_seconds_count', { model: 'gpt-4o' })).toBe(1);
    expect(valueOf(s, 'tokens_total', { model: 'gpt-4o', type: 'prompt' })).toBe(14);
    expect(valueOf(s, 'tokens_total', { model: 'gpt-4o', type: 'completion' })).toBe(6);
    expect(valueOf(s, 'cache_requests_total', { result: 'hit' })).toBe(1);
    expect(valueOf(s, 'cache_requests_total', { result: 'miss' })).toBe(1);
    expect(valueOf(s, 'cache_requests_total', { result: 'bypass' })).toBe(1);
    expect(valueOf(s, 'rate_limited_total', { kind: 'tokens' })).toBe(1);
    expect(valueOf(s, 'inflight_requests')).toBe(0);
  });

  it('counts a batch item by item: cache, limits, tokens and upstream errors of each', async () => {
    const m = createGatewayMetrics({ registry: new Registry(), defaultMetrics: false });
    const item = (stats: Partial<RequestStats>) => ({ ...newRequestStats(), ...stats });
    finished(m, 200, {
      promptTokens: 10,
      completionTokens: 4,
      items: [
        item({ model: 'gpt-4o', upstreamStatus: 200, promptTokens: 6, completionTokens: 4, cache: 'miss' }),
        item({ model: 'gpt-4o', cache: 'hit', promptTokens: 4 }),
        item({ model: 'gpt-4o', rateLimited: 'requests' }),
        item({ model: 'gpt-4o', upstreamError: 'timeout' }),
      ],
    }, '/v1/batch');
    const s = await scrape(m);
    expect(valueOf(s, 'http_requests_total', { route: '/v1/batch' })).toBe(1);
    expect(valueOf(s, 'tokens_total', { model: 'gpt-4o', type: 'prompt' })).toBe(10);
    expect(valueOf(s, 'tokens_total', { model: 'gpt-4o', type: 'completion' })).toBe(4);
    expect(valueOf(s, 'cache_requests_total', { result: 'hit' })).toBe(1);
    expect(valueOf(s, 'cache_requests_total', { result: 'miss' })).toBe(1);
    expect(valueOf(s, 'rate_limited_total', { kind: 'requests' })).toBe(1);
    expect(valueOf(s, 'upstream_errors_total', { kind: 'timeout' })).toBe(1);
  });

  it('keeps labels bounded: unknown methods, unserved models, no key ids anywhere', async () => {
    const m = createGatewayMetrics({ registry: new Registry(), defaultMetrics: false });
    m.requestStarted();
    m.requestFinished(requestOutcome('unmatched', 'PROPFIND', 404, 1, newRequestStats()));
    finished(m, 404, { model: 'gpt-nope', keyId: 'key-id-SECRET', upstreamStatus: 404, upstreamError: 'status_4xx', upstreamMs: 1, promptTokens: 0 });
    finished(m, 200, { model: 'gpt-nope', keyId: 'key-id-SECRET', upstreamStatus: 200, upstreamMs: 1, promptTokens: 2 });
    const text = await m.registry.metrics();
    expect(text).not.toContain('key-id-SECRET');
    const s = parseProm(text);
    expect(valueOf(s, 'http_requests_total', { method: 'other', route: 'unmatched' })).toBe(1);
    expect(valueOf(s, 'upstream_request_duration_seconds_count', { provider: 'none', status: '404' })).toBe(1);
    expect(valueOf(s, 'tokens_total', { model: 'gpt-nope', type: 'prompt' })).toBe(2);
  });

  it('counts store events and reads the usage buffer at scrape time', async () => {
    const m = createGatewayMetrics({ registry: new Registry(), defaultMetrics: false });
    let depth = 3;
    m.watchUsageBuffer({ depth: () => depth });
    m.storeEvents.redisFallback?.('limiter');
    m.storeEvents.redisFallback?.('cache');
    m.storeEvents.redisFallback?.('cache');
    m.storeEvents.usageDropped?.(5);
    let s = await scrape(m);
    expect(valueOf(s, 'usage_buffer_depth')).toBe(3);
    expect(valueOf(s, 'redis_fallback_total', { component: 'limiter' })).toBe(1);
    expect(valueOf(s, 'redis_fallback_total', { component: 'cache' })).toBe(2);
    expect(valueOf(s, 'usage_rows_dropped_total')).toBe(5);
    depth = 0;
    s = await scrape(m);
    expect(valueOf(s, 'usage_buffer_depth')).toBe(0);
  });

  it('counts in-flight requests until they finish', async () => {
    const m = createGatewayMetrics({ registry: new Registry(), defaultMetrics: false });
    m.requestStarted();
    m.requestStarted();
    expect(valueOf(await scrape(m), 'inflight_requests')).toBe(2);
    m.requestFinished(requestOutcome('/health', 'GET', 200, 1, newRequestStats()));
    expect(valueOf(await scrape(m), 'inflight_requests')).toBe(1);
  });
});

describe('worker registries', () => {
  it('add up across workers the way the cluster primary aggregates them', async () => {
    const workers = [createGatewayMetrics({ registry: new Registry() }), createGatewayMetrics({ registry: new Registry() })];
    finished(workers[0], 200, { model: 'gpt-4o', upstreamStatus: 200, upstreamMs: 5, promptTokens: 4 });
    finished(workers[1], 200, { model: 'gpt-4o', upstreamStatus: 200, upstreamMs: 5, promptTokens: 6 });
    finished(workers[1], 429, { rateLimited: 'requests' });
    const merged = AggregatorRegistry.aggregate(await Promise.all(workers.map((w) => w.registry.getMetricsAsJSON())));
    const s = parseProm(await merged.metrics());
    const chatOk = { route: '/v1/chat/completions', method: 'POST', status: '200' };
    expect(valueOf(s, 'http_requests_total', chatOk)).toBe(2);
    expect(valueOf(s, 'http_request_duration_seconds_count', chatOk)).toBe(2);
    expect(valueOf(s, 'http_request_duration_seconds_bucket', { ...chatOk, le: '+Inf' })).toBe(2);
    expect(valueOf(s, 'tokens_total', { model: 'gpt-4o', type: 'prompt' })).toBe(10);
    expect(valueOf(s, 'rate_limited_total', { kind: 'requests' })).toBe(1);
    expect(valueOf(s, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
  });
});
