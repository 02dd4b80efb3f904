import type { RequestStats } from '../lib/request-stats';

/** The status recorded for a request whose caller hung up before the answer was complete (nginx's). */
export const CLIENT_CLOSED = 499;

/** The route label of requests that matched no route. */
export const UNMATCHED_ROUTE = 'unmatched';

/** Liveness and readiness probes: counted by Prometheus, kept out of the CloudWatch request metrics. */
export const PROBE_ROUTES: ReadonlySet<string> = new Set(['/health', '/ready']);

/** What one finished request did: computed once, then read by the metrics, EMF and the access log. */
export interface RequestOutcome {
  /** The route template (`/admin/keys/:id`), never the raw URL; `unmatched` for 404s. */
  route: string;
  method: string;
  /** The status sent, or 499 when the caller left before the answer was complete. */
  status: number;
  durationMs: number;
  /** Whether the upstream was called (answered, failed or timed out). */
  upstreamCalled: boolean;
  /** Our own time: duration minus time waiting on the upstream, ≥ 0; only when the upstream was called. */
  overheadMs: number;
  stats: RequestStats;
}

/** Builds the outcome from the request's stats at the moment its response closed. */
export function requestOutcome(
  route: string,
  method: string,
  status: number,
  durationMs: number,
  stats: RequestStats,
): RequestOutcome {
  const upstreamCalled = stats.upstreamStatus !== undefined || stats.upstreamError !== undefined;
  const overheadMs = upstreamCalled ? Math.max(0, durationMs - stats.upstreamMs) : 0;
  return { route, method, status, durationMs, upstreamCalled, overheadMs, stats };
}
