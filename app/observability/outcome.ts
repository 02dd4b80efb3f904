import { emptyOutcome, type CallOutcome } from '../pipeline/outcome';

/** The status recorded for a request whose caller hung up before the answer was complete (nginx's). */
export const CLIENT_CLOSED = 499;

/** The route label of requests that matched no route. */
export const UNMATCHED_ROUTE = 'unmatched';

/** Liveness and readiness probes: counted by Prometheus, kept out of the CloudWatch request metrics. */
export const PROBE_ROUTES: ReadonlySet<string> = new Set(['/health', '/ready']);

/** What one finished HTTP request did: computed once, then read by the metrics, EMF and the access log. */
export interface RequestOutcome {
  /** The route template (`/admin/keys/:id`), never the raw URL; `unmatched` for 404s. */
  route: string;
  method: string;
  /** The status sent, or 499 when the caller left before the answer was complete. */
  status: number;
  durationMs: number;
  /** Whether a provider was called (answered, failed or timed out). */
  upstreamCalled: boolean;
  /** Our own time: duration minus time waiting on providers, ≥ 0; only when a provider was called. */
  overheadMs: number;
  /** The model call the pipeline returned (empty for routes that make none). */
  stats: CallOutcome;
}

export function requestOutcome(
  route: string,
  method: string,
  status: number,
  durationMs: number,
  call: CallOutcome = emptyOutcome(),
): RequestOutcome {
  const upstreamCalled = call.attempts > 0 || call.upstreamStatus !== undefined || call.upstreamError !== undefined;
  const overheadMs = upstreamCalled ? Math.max(0, durationMs - call.upstreamMs) : 0;
  return { route, method, status, durationMs, upstreamCalled, overheadMs, stats: call };
}
