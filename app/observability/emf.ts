/**
 * CloudWatch metrics without an agent: the alarm metrics, aggregated in process and written as one
 * Embedded Metric Format (EMF) log line per interval; awslogs ships stdout and CloudWatch Logs turns
 * the line into metrics. Names, units and the dimension are a contract with the CDK alarms.
 */
import { PROBE_ROUTES, type RequestOutcome } from './outcome';

/** EMF allows at most 100 values in one metric's array. */
export const EMF_MAX_VALUES = 100;

export const EMF_COUNT_METRICS = [
  'Requests',
  'Errors5xx',
  'UpstreamErrors',
  'RateLimited',
  'PromptTokens',
  'CompletionTokens',
  'CacheHits',
] as const;
export type EmfCountMetric = (typeof EMF_COUNT_METRICS)[number];

/**
 * The gateway's own fault counters, each alarmed by the CDK stack (any non-zero 5-minute sum):
 * - `LimiterFailOpen`: a limit check served by the in-process fallback because Redis failed;
 * - `UsageRowsDropped`: usage rows dropped because Postgres stayed away past the buffer;
 * - `BudgetReseedFailures`: a budget counter Redis lost that could not be re-seeded from usage.
 */
export const EMF_FAULT_METRICS = ['LimiterFailOpen', 'UsageRowsDropped', 'BudgetReseedFailures'] as const;
export type EmfFault = (typeof EMF_FAULT_METRICS)[number];
export const EMF_OVERHEAD_METRIC = 'GatewayOverhead';

export interface EmfDocument {
  _aws: {
    Timestamp: number;
    CloudWatchMetrics: Array<{
      Namespace: string;
      Dimensions: string[][];
      Metrics: Array<{ Name: string; Unit: 'Count' | 'Milliseconds' }>;
    }>;
  };
  Service: string;
  [member: string]: unknown;
}

const SKETCH_MIN_MS = 0.001;
const SKETCH_GAMMA = 1.02;
const SKETCH_LOG_GAMMA = Math.log(SKETCH_GAMMA);
const SKETCH_BUCKETS = 1100; // 1 µs · 1.02^1100 ≈ 50 min: anything longer shares the last bucket

/**
 * A log-bucketed histogram of one interval's observations (each bucket 2 % wide, so a value read
 * back is within 1 % of the one observed). Constant memory whatever the traffic, and cheap to add to.
 */
export class QuantileSketch {
  private readonly counts = new Uint32Array(SKETCH_BUCKETS);
  private lo = SKETCH_BUCKETS;
  private hi = -1;
  count = 0;

  add(ms: number): void {
    let i = 0;
    if (ms > SKETCH_MIN_MS) i = Math.min(SKETCH_BUCKETS - 1, Math.ceil(Math.log(ms / SKETCH_MIN_MS) / SKETCH_LOG_GAMMA));
    this.counts[i]++;
    this.count++;
    if (i < this.lo) this.lo = i;
    if (i > this.hi) this.hi = i;
  }

  /**
   * At most `max` values that weigh equally: every observation when there are no more than `max`,
   * else the nearest-rank quantiles 1/max, 2/max, …, 100 % (with 100 values: p1…p99 and the
   * maximum). Either way a percentile over the values (CloudWatch's p99) is the interval's
   * percentile, to within the bucket width.
   */
  values(max = EMF_MAX_VALUES): number[] {
    const n = this.count;
    const m = Math.min(n, max);
    const out: number[] = [];
    let cumulative = 0;
    let i = this.lo;
    for (let k = 0; k < m; k++) {
      const rank = Math.ceil(((k + 1) * n) / m) - 1; // 0-based
      while (cumulative + this.counts[i] <= rank) cumulative += this.counts[i++];
      out.push(bucketValue(i));
    }
    return out;
  }

  reset(): void {
    if (this.hi >= this.lo) this.counts.fill(0, this.lo, this.hi + 1);
    this.lo = SKETCH_BUCKETS;
    this.hi = -1;
    this.count = 0;
  }
}

function bucketValue(i: number): number {
  if (i === 0) return 0;
  const v = SKETCH_MIN_MS * SKETCH_GAMMA ** (i - 0.5); // the bucket's geometric middle
  return Math.round(v * 1000) / 1000;
}

/** One interval's alarm metrics. `record` is on the request path: a few additions, nothing more. */
export class EmfAggregator {
  private readonly counts: Record<EmfCountMetric, number> = {
    Requests: 0,
    Errors5xx: 0,
    UpstreamErrors: 0,
    RateLimited: 0,
    PromptTokens: 0,
    CompletionTokens: 0,
    CacheHits: 0,
  };
  private readonly faults: Record<EmfFault, number> = { LimiterFailOpen: 0, UsageRowsDropped: 0, BudgetReseedFailures: 0 };
  private readonly overhead = new QuantileSketch();

  constructor(
    private readonly namespace: string,
    private readonly service: string,
  ) {}

  record(o: RequestOutcome): void {
    if (PROBE_ROUTES.has(o.route)) return;
    const c = this.counts;
    const s = o.stats;
    c.Requests++;
    if (o.status >= 500) c.Errors5xx++;
    // A caller's bad request passed through as a 4xx is theirs; everything else the upstream did
    // wrong (including refusing the gateway's own credentials, which the caller sees as a 502) is ours.
    for (const item of s.items ?? [s]) {
      if (item.upstreamError !== undefined && (item.upstreamError !== 'status_4xx' || o.status >= 500)) c.UpstreamErrors++;
      if (item.rateLimited !== undefined) c.RateLimited++;
      c.PromptTokens += item.promptTokens;
      c.CompletionTokens += item.completionTokens;
      if (item.cache === 'hit') c.CacheHits++;
    }
    if (o.upstreamCalled) this.overhead.add(o.overheadMs);
  }

  /** Counts `n` occurrences of a fault in this interval. */
  fault(name: EmfFault, n = 1): void {
    this.faults[name] += n;
  }

  /**
   * The interval's document, then a fresh interval. Counts are always present (zeros included, so
   * alarms see data rather than INSUFFICIENT_DATA); GatewayOverhead only when there were observations.
   */
  take(timestampMs: number, extra: Record<string, unknown> = {}): EmfDocument {
    const metrics: Array<{ Name: string; Unit: 'Count' | 'Milliseconds' }> = EMF_COUNT_METRICS.map((Name) => ({
      Name,
      Unit: 'Count' as const,
    }));
    const doc: EmfDocument = {
      _aws: {
        Timestamp: timestampMs,
        CloudWatchMetrics: [{ Namespace: this.namespace, Dimensions: [['Service']], Metrics: metrics }],
      },
      Service: this.service,
      ...extra,
    };
    for (const name of EMF_COUNT_METRICS) {
      doc[name] = this.counts[name];
      this.counts[name] = 0;
    }
    for (const name of EMF_FAULT_METRICS) {
      metrics.push({ Name: name, Unit: 'Count' });
      doc[name] = this.faults[name];
      this.faults[name] = 0;
    }
    if (this.overhead.count > 0) {
      metrics.push({ Name: EMF_OVERHEAD_METRIC, Unit: 'Milliseconds' });
      doc[EMF_OVERHEAD_METRIC] = this.overhead.values();
    }
    this.overhead.reset();
    return doc;
  }
}

export interface EmfEmitterOptions {
  namespace: string;
  service: string;
  intervalSeconds: number;
  /** Receives each document as one JSON line ending in `\n`. */
  write: (line: string) => void;
  /** Extra root members on every line (not metrics), e.g. `{ pid }`. */
  extra?: Record<string, unknown>;
  now?: () => number;
}

export interface EmfEmitter {
  record(o: RequestOutcome): void;
  /** Counts a fault (see EMF_FAULT_METRICS) in the current interval. */
  fault(name: EmfFault, n?: number): void;
  /** Writes the current (partial) interval now and stops the timer: call once the server has drained. */
  close(): void;
}

/**
 * Writes one EMF line per interval, on wall-clock boundaries (so every process's lines for a minute
 * carry that minute's timestamp), and a last one for the partial interval on close.
 */
export function startEmfEmitter(opts: EmfEmitterOptions): EmfEmitter {
  const now = opts.now ?? Date.now;
  const intervalMs = opts.intervalSeconds * 1000;
  const aggregator = new EmfAggregator(opts.namespace, opts.service);
  const extra = opts.extra ?? {};
  let intervalStart = Math.floor(now() / intervalMs) * intervalMs;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const flush = () => {
    const started = intervalStart;
    // A timer may fire a hair before the boundary by the wall clock: never reuse a timestamp.
    intervalStart = Math.max(Math.floor(now() / intervalMs) * intervalMs, started + intervalMs);
    opts.write(`${JSON.stringify(aggregator.take(started, extra))}\n`);
  };
  const schedule = () => {
    timer = setTimeout(
      () => {
        flush();
        schedule();
      },
      Math.max(1, intervalStart + intervalMs - now()),
    );
    timer.unref();
  };
  schedule();

  return {
    record: (o) => aggregator.record(o),
    fault: (name, n) => aggregator.fault(name, n),
    close() {
      if (closed) return;
      closed = true;
      clearTimeout(timer);
      flush();
    },
  };
}

/** What the stores report, as createServices takes it (structurally the same as bootstrap's StoreEvents). */
export interface FaultEvents {
  redisFallback?(component: 'limiter' | 'cache'): void;
  usageDropped?(count: number): void;
  reseedFailed?(err: unknown): void;
}

/**
 * `events` that also count the faults the alarms watch into `emf` (when EMF is on): a limiter
 * fallback (the fail-open path), dropped usage rows and failed budget re-seeds.
 */
export function withEmfFaults<E extends FaultEvents>(events: E, emf: Pick<EmfEmitter, 'fault'> | undefined): E {
  if (!emf) return events;
  return {
    ...events,
    redisFallback(component) {
      events.redisFallback?.(component);
      if (component === 'limiter') emf.fault('LimiterFailOpen');
    },
    usageDropped(count) {
      events.usageDropped?.(count);
      emf.fault('UsageRowsDropped', count);
    },
    reseedFailed(err) {
      events.reseedFailed?.(err);
      emf.fault('BudgetReseedFailures');
    },
  };
}
