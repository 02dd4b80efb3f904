import { EmfAggregator, QuantileSketch, startEmfEmitter, type EmfDocument } from '../../../app/observability/emf';
import { requestOutcome, type RequestOutcome } from '../../../app/observability/outcome';
import { emptyOutcome as newRequestStats, type CallOutcome as RequestStats } from '../../../app/pipeline/outcome';
import { emfProblems, percentile } from './emf-spec';

function outcome(status: number, stats: Partial<RequestStats> = {}, durationMs = 10, route = '/v1/chat/completions'): RequestOutcome {
  return requestOutcome(route, 'POST', status, durationMs, { ...newRequestStats(), ...stats });
}

const upstreamOk = { upstreamStatus: 200, upstreamMs: 9 };

describe('QuantileSketch', () => {
  it('gives back every observation (within 1 %) while there are at most 100', () => {
    const s = new QuantileSketch();
    const seen = [0, 0.0004, 0.05, 0.2, 1, 3.3, 12.5, 250, 9000];
    for (const v of seen) s.add(v);
    const values = s.values();
    expect(values).toHaveLength(seen.length);
    seen.forEach((v, i) => {
      if (v <= 0.001) expect(values[i]).toBe(0);
      else expect(Math.abs(values[i] - v) / v).toBeLessThanOrEqual(0.01);
    });
  });

  it('past 100 observations, 100 equal-weight values whose p99 is the interval p99', () => {
    const s = new QuantileSketch();
    const seen: number[] = [];
    let x = 12345;
    for (let i = 0; i < 20_000; i++) {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      const v = 0.05 + (x / 2 ** 31) ** 8 * 40; // long tail: p50 ≈ 0.05, p99 ≈ 37
      seen.push(v);
      s.add(v);
    }
    const values = s.values();
    expect(values).toHaveLength(100);
    for (const p of [50, 90, 99, 100]) {
      const truth = percentile(seen, p);
      expect(Math.abs(percentile(values, p) - truth) / truth).toBeLessThanOrEqual(0.01);
    }
  });

  it('starts empty again after reset', () => {
    const s = new QuantileSketch();
    s.add(5);
    s.reset();
    expect(s.count).toBe(0);
    expect(s.values()).toEqual([]);
    s.add(1);
    expect(s.values()).toHaveLength(1);
  });
});

describe('EmfAggregator', () => {
  it('writes valid EMF: namespace, one [["Service"]] dimension set, the fixed metric names', () => {
    const agg = new EmfAggregator('LlmApi/test', 'llm-api');
    agg.record(outcome(200, { ...upstreamOk, promptTokens: 7, completionTokens: 5 }, 10.5));
    const doc = agg.take(1_700_000_040_000);
    expect(emfProblems(doc)).toEqual([]);
    const directive = doc._aws.CloudWatchMetrics[0];
    expect(doc._aws.Timestamp).toBe(1_700_000_040_000);
    expect(directive.Namespace).toBe('LlmApi/test');
    expect(directive.Dimensions).toEqual([['Service']]);
    expect(doc.Service).toBe('llm-api');
    expect(directive.Metrics).toEqual([
      { Name: 'Requests', Unit: 'Count' },
      { Name: 'Errors5xx', Unit: 'Count' },
      { Name: 'UpstreamErrors', Unit: 'Count' },
      { Name: 'RateLimited', Unit: 'Count' },
      { Name: 'PromptTokens', Unit: 'Count' },
      { Name: 'CompletionTokens', Unit: 'Count' },
      { Name: 'CacheHits', Unit: 'Count' },
      { Name: 'LimiterFailOpen', Unit: 'Count' },
      { Name: 'UsageRowsDropped', Unit: 'Count' },
      { Name: 'BudgetReseedFailures', Unit: 'Count' },
      { Name: 'GatewayOverhead', Unit: 'Milliseconds' },
    ]);
    expect(doc).toMatchObject({ Requests: 1, PromptTokens: 7, CompletionTokens: 5 });
    expect(doc.GatewayOverhead).toEqual([expect.closeTo(1.5, 1)]);
  });

  it('counts requests, 5xx, upstream errors, rate limits, tokens and cache hits', () => {
    const agg = new EmfAggregator('ns', 'svc');
    agg.record(outcome(200, { ...upstreamOk, promptTokens: 3, completionTokens: 4, cache: 'miss' }));
    agg.record(outcome(200, { cache: 'hit', promptTokens: 3, completionTokens: 4 }));
    agg.record(outcome(429, { rateLimited: 'requests' }));
    agg.record(outcome(429, { rateLimited: 'budget' }));
    agg.record(outcome(502, { upstreamStatus: 500, upstreamError: 'status_5xx', upstreamMs: 3 }));
    agg.record(outcome(504, { upstreamError: 'timeout', upstreamMs: 1500 }, 1501));
    agg.record(outcome(400, { upstreamStatus: 400, upstreamError: 'status_4xx', upstreamMs: 2 })); // the caller's mistake
    agg.record(outcome(502, { upstreamStatus: 401, upstreamError: 'status_4xx', upstreamMs: 2 })); // our credentials
    agg.record(outcome(200, { ...upstreamOk, upstreamError: 'stream', stream: 'error' }));
    agg.record(outcome(503, {}));
    agg.record(outcome(200, {}, 1, '/health'));
    agg.record(outcome(503, {}, 1, '/ready'));
    const doc = agg.take(0);
    expect(emfProblems(doc)).toEqual([]);
    expect(doc).toMatchObject({
      Requests: 10,
      Errors5xx: 4,
      UpstreamErrors: 4,
      RateLimited: 2,
      PromptTokens: 6,
      CompletionTokens: 8,
      CacheHits: 1,
    });
    // one overhead value per request that reached the upstream
    expect((doc.GatewayOverhead as number[]).length).toBe(6);
  });

  it('counts a batch by its items', () => {
    const agg = new EmfAggregator('ns', 'svc');
    const item = (stats: Partial<RequestStats>) => ({ ...newRequestStats(), ...stats });
    agg.record(
      outcome(200, {
        promptTokens: 5,
        completionTokens: 2,
        items: [
          item({ upstreamStatus: 200, promptTokens: 3, completionTokens: 2, cache: 'miss' }),
          item({ cache: 'hit', promptTokens: 2 }),
          item({ rateLimited: 'tokens' }),
          item({ upstreamError: 'connection' }),
        ],
      }, 10, '/v1/batch'),
    );
    expect(agg.take(0)).toMatchObject({
      Requests: 1,
      UpstreamErrors: 1,
      RateLimited: 1,
      PromptTokens: 5,
      CompletionTokens: 2,
      CacheHits: 1,
    });
  });

  it('emits zeros for an idle interval, without GatewayOverhead, and starts afresh after each take', () => {
    const agg = new EmfAggregator('ns', 'svc');
    agg.record(outcome(200, upstreamOk));
    agg.take(0);
    const idle = agg.take(60_000);
    expect(emfProblems(idle)).toEqual([]);
    expect(idle).toMatchObject({ Requests: 0, Errors5xx: 0, PromptTokens: 0, CacheHits: 0 });
    expect(idle).not.toHaveProperty('GatewayOverhead');
    expect(idle._aws.CloudWatchMetrics[0].Metrics.map((m) => m.Name)).not.toContain('GatewayOverhead');
  });

  it('holds at most 100 overhead values however busy the interval', () => {
    const agg = new EmfAggregator('ns', 'svc');
    for (let i = 0; i < 5000; i++) agg.record(outcome(200, upstreamOk, 9 + (i % 100) / 100));
    const doc = agg.take(0);
    expect(doc.Requests).toBe(5000);
    expect((doc.GatewayOverhead as number[]).length).toBe(100);
    expect(emfProblems(doc)).toEqual([]);
  });
});

describe('startEmfEmitter', () => {
  beforeEach(() => jest.useFakeTimers({ now: 1_700_000_000_250 }));
  afterEach(() => jest.useRealTimers());

  function collect() {
    const lines: string[] = [];
    const docs = () => lines.map((l) => JSON.parse(l) as EmfDocument);
    return { lines, docs, write: (l: string) => void lines.push(l) };
  }

  it('writes one line per interval on wall-clock boundaries, then the partial interval on close', () => {
    const out = collect();
    const emf = startEmfEmitter({ namespace: 'ns', service: 'svc', intervalSeconds: 60, write: out.write, extra: { pid: 1 } });
    emf.record(outcome(200, upstreamOk));
    jest.advanceTimersByTime(39_749); // 1 ms before the minute's boundary
    expect(out.lines).toHaveLength(0);
    jest.advanceTimersByTime(1);
    expect(out.lines).toHaveLength(1);
    emf.record(outcome(500, {}));
    jest.advanceTimersByTime(120_000);
    expect(out.lines).toHaveLength(3);
    emf.record(outcome(200, {}));
    jest.advanceTimersByTime(5_000);
    emf.close();
    emf.close();
    expect(out.lines).toHaveLength(4);
    for (const line of out.lines) expect(line.endsWith('}\n') && !line.slice(0, -1).includes('\n')).toBe(true);
    const docs = out.docs();
    expect(docs.map((d) => d._aws.Timestamp)).toEqual([1_699_999_980_000, 1_700_000_040_000, 1_700_000_100_000, 1_700_000_160_000]);
    expect(docs.map((d) => d.Requests)).toEqual([1, 1, 0, 1]);
    expect(docs.map((d) => d.Errors5xx)).toEqual([0, 1, 0, 0]);
    expect(docs[0].pid).toBe(1);
    for (const d of docs) expect(emfProblems(d)).toEqual([]);
    jest.advanceTimersByTime(600_000);
    expect(out.lines).toHaveLength(4); // no timer left after close
  });
});
