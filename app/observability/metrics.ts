/**
 * The Prometheus families. Every label is bounded: route templates, known methods, status codes,
 * fixed kinds, and models through ModelLabels; never a raw URL, a key or a key id.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { StoreEvents } from '../bootstrap';
import type { CacheResult, EarlyStartOutcome, UpstreamErrorKind } from '../lib/request-stats';
import type { LimitKind } from '../stores/types';
import { CounterFamily, HistogramFamily } from './cells';
import { ModelLabels } from './model-labels';
import type { RequestOutcome } from './outcome';

const REQUEST_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
const OVERHEAD_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];
const TTFT_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

const METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
const UPSTREAM_ERROR_KINDS: UpstreamErrorKind[] = ['timeout', 'connection', 'status_5xx', 'status_4xx', 'status_429', 'stream'];
const CACHE_RESULTS: CacheResult[] = ['hit', 'miss', 'bypass'];
const LIMIT_KINDS: LimitKind[] = ['requests', 'tokens', 'budget'];
const EARLY_START_OUTCOMES: EarlyStartOutcome[] = ['used', 'cancelled'];

export interface GatewayMetricsOptions {
  /** @default a new Registry */
  registry?: Registry;
  models?: ModelLabels;
  /** Process and Node.js metrics (`process_*`, `nodejs_*`). @default true */
  defaultMetrics?: boolean;
}

export type GatewayMetrics = ReturnType<typeof createGatewayMetrics>;

export function createGatewayMetrics(opts: GatewayMetricsOptions = {}) {
  const registry = opts.registry ?? new Registry();
  const models = opts.models ?? new ModelLabels();
  const registers = [registry];
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry });

  // The request path: families of plain cells (see cells.ts).
  const httpRequests = new CounterFamily(
    'http_requests_total',
    'Requests answered, by route template, method and status (499: the caller left first).',
    ['route', 'method', 'status'],
    registry,
  );
  const httpDuration = new HistogramFamily(
    'http_request_duration_seconds',
    'Time from a request arriving to its response finishing (streams: the whole stream).',
    ['route', 'method', 'status'],
    REQUEST_BUCKETS,
    registry,
  );
  const upstreamDuration = new HistogramFamily(
    'upstream_request_duration_seconds',
    'Time spent waiting on the upstream per request, retries included (status: its last status, or timeout/connection).',
    ['model', 'status'],
    REQUEST_BUCKETS,
    registry,
  );
  const upstreamErrors = new CounterFamily(
    'upstream_errors_total',
    'Requests whose upstream call failed after retries, by kind.',
    ['kind'],
    registry,
  );
  const upstreamRetries = new CounterFamily(
    'upstream_retries_total',
    'Upstream calls retried (connection errors, 429 and 5xx before the first byte).',
    [],
    registry,
  ).child();
  const overhead = new HistogramFamily(
    'gateway_overhead_seconds',
    'Time the gateway added to requests that reached the upstream: total time minus time waiting on the upstream.',
    ['route'],
    OVERHEAD_BUCKETS,
    registry,
  );
  const ttft = new HistogramFamily(
    'stream_time_to_first_token_seconds',
    'Streams: time from the request arriving to the first event sent to the caller.',
    ['model'],
    TTFT_BUCKETS,
    registry,
  );
  const tokens = new CounterFamily(
    'tokens_total',
    'Tokens used, by model and type (prompt|completion); models past the bound are "other".',
    ['model', 'type'],
    registry,
  );
  const cacheRequests = new CounterFamily(
    'cache_requests_total',
    'Chat requests by response cache result (hit|miss|bypass).',
    ['result'],
    registry,
  );
  const rateLimited = new CounterFamily(
    'rate_limited_total',
    'Requests refused with 429 by the limit that refused them (requests|tokens|budget).',
    ['kind'],
    registry,
  );
  const earlyStarts = new CounterFamily(
    'early_starts_total',
    'Upstream calls started before the limit check answered, by outcome (used|cancelled: the check refused or failed).',
    ['outcome'],
    registry,
  );

  // Read at scrape time, or rare: prom-client's own.
  let inflight = 0;
  new Gauge({
    name: 'inflight_requests',
    help: 'Requests being answered now (streams until they end).',
    registers,
    collect() {
      this.set(inflight);
    },
  });
  let usageDepth: () => number = () => 0;
  new Gauge({
    name: 'usage_buffer_depth',
    help: 'Usage rows waiting to be written to the database.',
    registers,
    collect() {
      this.set(usageDepth());
    },
  });
  const usageDropped = new Counter({
    name: 'usage_rows_dropped_total',
    help: 'Usage rows given up on (buffer full while the database was unreachable, or rejected by it).',
    registers,
  });
  const redisFallbacks = new Counter({
    name: 'redis_fallback_total',
    help: 'Operations served without Redis because it was unavailable, by component (limiter|cache).',
    labelNames: ['component'],
    registers,
  });

  // Bounded label sets start at zero, so rate() and alerts work before the first event.
  for (const kind of UPSTREAM_ERROR_KINDS) upstreamErrors.child(kind);
  for (const result of CACHE_RESULTS) cacheRequests.child(result);
  for (const kind of LIMIT_KINDS) rateLimited.child(kind);
  for (const outcome of EARLY_START_OUTCOMES) earlyStarts.child(outcome);
  for (const component of ['limiter', 'cache']) redisFallbacks.labels(component).inc(0);
  usageDropped.inc(0);

  const storeEvents: StoreEvents = {
    redisFallback: (component) => redisFallbacks.labels(component).inc(),
    usageDropped: (count) => usageDropped.inc(count),
  };

  return {
    registry,
    storeEvents,
    /** The usage-buffer gauge reads this at each scrape. */
    watchUsageBuffer(recorder: { depth(): number }) {
      usageDepth = () => recorder.depth();
    },
    requestStarted() {
      inflight++;
    },
    /** Everything one finished request adds; called once per request. */
    requestFinished(o: RequestOutcome) {
      inflight--;
      const s = o.stats;
      const method = METHODS.has(o.method) ? o.method : 'other';
      const status = String(o.status);
      httpRequests.child(o.route, method, status).value++;
      httpDuration.child(o.route, method, status).observe(o.durationMs / 1000);
      if (o.upstreamCalled) overhead.child(o.route).observe(o.overheadMs / 1000);
      // A batch is one HTTP request but many model calls: those are counted per item.
      for (const item of s.items ?? [s]) {
        const accepted = item.cache === 'hit' || (item.upstreamStatus !== undefined && item.upstreamStatus < 300);
        const model = models.label(item.model, accepted);
        if (item.upstreamStatus !== undefined || item.upstreamError !== undefined) {
          const upstreamStatus = item.upstreamStatus !== undefined ? String(item.upstreamStatus) : (item.upstreamError as string);
          upstreamDuration.child(model, upstreamStatus).observe(item.upstreamMs / 1000);
        }
        if (item.upstreamError !== undefined) upstreamErrors.child(item.upstreamError).value++;
        upstreamRetries.value += item.retries;
        if (item.ttftMs !== undefined) ttft.child(model).observe(item.ttftMs / 1000);
        if (item.promptTokens > 0) tokens.child(model, 'prompt').value += item.promptTokens;
        if (item.completionTokens > 0) tokens.child(model, 'completion').value += item.completionTokens;
        if (item.cache !== undefined) cacheRequests.child(item.cache).value++;
        if (item.rateLimited !== undefined) rateLimited.child(item.rateLimited).value++;
        if (item.earlyStart !== undefined) earlyStarts.child(item.earlyStart).value++;
      }
    },
  };
}
