/**
 * The Prometheus families. Every label is bounded: route templates, known methods, status codes,
 * fixed kinds, provider and deployment names from the routing document, and models through
 * ModelLabels; never a raw URL, a key or a key id. Label children are prom-client's own (`labels()`
 * caches each child; the request path only looks them up).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { StoreEvents } from '../bootstrap';
import type { CacheResult } from '../pipeline/outcome';
import type { UpstreamErrorKind } from '../routing/router';
import type { LimitKind } from '../stores/types';
import { ModelLabels } from './model-labels';
import type { RequestOutcome } from './outcome';

const REQUEST_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
const OVERHEAD_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];
const TTFT_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

const METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
const UPSTREAM_ERROR_KINDS: UpstreamErrorKind[] = ['timeout', 'connection', 'status_5xx', 'status_4xx', 'status_429', 'stream'];
const CACHE_RESULTS: CacheResult[] = ['hit', 'miss', 'bypass'];
const LIMIT_KINDS: LimitKind[] = ['requests', 'tokens', 'budget'];

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

  const httpRequests = new Counter({
    name: 'http_requests_total',
    help: 'Requests answered, by route template, method and status (499: the caller left first).',
    labelNames: ['route', 'method', 'status'],
    registers,
  });
  const httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time from a request arriving to its response finishing (streams: the whole stream).',
    labelNames: ['route', 'method', 'status'],
    buckets: REQUEST_BUCKETS,
    registers,
  });
  const upstreamDuration = new Histogram({
    name: 'upstream_request_duration_seconds',
    help: 'Time spent waiting on providers per request, all attempts (status: the last status, or timeout/connection).',
    labelNames: ['provider', 'deployment', 'status'],
    buckets: REQUEST_BUCKETS,
    registers,
  });
  const upstreamErrors = new Counter({
    name: 'upstream_errors_total',
    help: 'Requests whose provider calls failed in the end, by provider and kind.',
    labelNames: ['provider', 'kind'],
    registers,
  });
  const upstreamRetries = new Counter({
    name: 'upstream_retries_total',
    help: 'Provider calls after the first of a request (the next deployment, a fallback, or the same one again).',
    registers,
  });
  const overhead = new Histogram({
    name: 'gateway_overhead_seconds',
    help: 'Time the gateway added to requests that reached a provider: total time minus time waiting on providers.',
    labelNames: ['route'],
    buckets: OVERHEAD_BUCKETS,
    registers,
  });
  const ttft = new Histogram({
    name: 'stream_time_to_first_token_seconds',
    help: 'Streams: time from the request arriving to the first event sent to the caller.',
    labelNames: ['model'],
    buckets: TTFT_BUCKETS,
    registers,
  });
  const tokens = new Counter({
    name: 'tokens_total',
    help: 'Tokens used, by model and type (prompt|completion); models past the bound are "other".',
    labelNames: ['model', 'type'],
    registers,
  });
  const cacheRequests = new Counter({
    name: 'cache_requests_total',
    help: 'Model calls by response cache result (hit|miss|bypass).',
    labelNames: ['result'],
    registers,
  });
  const rateLimited = new Counter({
    name: 'rate_limited_total',
    help: 'Requests refused with 429 by the limit that refused them (requests|tokens|budget).',
    labelNames: ['kind'],
    registers,
  });

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

  const unpriced = new Counter({
    name: 'usage_unpriced_total',
    help: 'Usage rows recorded with cost_usd null because their model has no price, by model (bounded).',
    labelNames: ['model'],
    registers,
  });
  const budgetCrossings = new Counter({
    name: 'budget_threshold_crossings_total',
    help: 'Budgets crossing 80 % or 100 % of their amount, by scope (key|team), period (day|month) and percent.',
    labelNames: ['scope', 'period', 'percent'],
    registers,
  });
  const reseedFailures = new Counter({
    name: 'budget_reseed_failures_total',
    help: 'Budget counters Redis lost that could not be re-seeded from Postgres (the request got 503).',
    registers,
  });

  // Bounded label sets start at zero, so rate() and alerts work before the first event.
  for (const result of CACHE_RESULTS) cacheRequests.labels(result).inc(0);
  for (const kind of LIMIT_KINDS) rateLimited.labels(kind).inc(0);
  for (const component of ['limiter', 'cache']) redisFallbacks.labels(component).inc(0);
  usageDropped.inc(0);
  upstreamRetries.inc(0);
  reseedFailures.inc(0);
  for (const scope of ['key', 'team']) {
    for (const period of ['day', 'month']) for (const percent of ['80', '100']) budgetCrossings.labels(scope, period, percent).inc(0);
  }

  const storeEvents: StoreEvents = {
    redisFallback: (component) => redisFallbacks.labels(component).inc(),
    usageDropped: (count) => usageDropped.inc(count),
    // Model names come from callers: bounded like every other model label.
    unpriced: (model) => unpriced.labels(models.label(model, true)).inc(),
    budgetThreshold: (e) => budgetCrossings.labels(e.scope, e.period, String(e.percent)).inc(),
    reseedFailed: () => reseedFailures.inc(),
  };

  return {
    registry,
    storeEvents,
    /** Providers' error counters start at zero once their names are known. */
    knowProviders(names: string[]) {
      for (const p of names) for (const kind of UPSTREAM_ERROR_KINDS) upstreamErrors.labels(p, kind).inc(0);
    },
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
      const method = METHODS.has(o.method) ? o.method : 'other';
      const status = String(o.status);
      httpRequests.labels(o.route, method, status).inc();
      httpDuration.labels(o.route, method, status).observe(o.durationMs / 1000);
      if (o.upstreamCalled) overhead.labels(o.route).observe(o.overheadMs / 1000);
      // A batch is one HTTP request but many model calls: those are counted per item.
      for (const call of o.stats.items ?? [o.stats]) {
        const accepted = call.cache === 'hit' || (call.upstreamStatus !== undefined && call.upstreamStatus < 300);
        const model = models.label(call.model, accepted);
        const provider = call.provider ?? 'none';
        if (call.attempts > 0 || call.upstreamStatus !== undefined || call.upstreamError !== undefined) {
          const upstreamStatus = call.upstreamStatus !== undefined ? String(call.upstreamStatus) : (call.upstreamError ?? 'none');
          upstreamDuration.labels(provider, call.deployment ?? 'none', upstreamStatus).observe(call.upstreamMs / 1000);
        }
        if (call.upstreamError !== undefined) upstreamErrors.labels(provider, call.upstreamError).inc();
        if (call.retries > 0) upstreamRetries.inc(call.retries);
        if (call.ttftMs !== undefined) ttft.labels(model).observe(call.ttftMs / 1000);
        if (call.promptTokens > 0) tokens.labels(model, 'prompt').inc(call.promptTokens);
        if (call.completionTokens > 0) tokens.labels(model, 'completion').inc(call.completionTokens);
        if (call.cache !== undefined) cacheRequests.labels(call.cache).inc();
        if (call.rateLimited !== undefined) rateLimited.labels(call.rateLimited).inc();
      }
    },
  };
}
