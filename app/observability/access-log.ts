import type { FastifyBaseLogger } from 'fastify';
import { ApiError } from '../errors';
import { CLIENT_CLOSED, type RequestOutcome } from './outcome';

const MAX_MODEL_CHARS = 200;

function ms(value: number): number {
  return Math.round(value * 1000) / 1000;
}

/** An answer we chose (502, 504, 503…): its class, code and message say it all; a stack would not. */
function mapped(err: Error | null): { type: string; code: string | null; message: string } | undefined {
  return err instanceof ApiError ? { type: err.name, code: err.code, message: err.message } : undefined;
}

/**
 * The one log line per request, written when its response closes (streams: when they end; a caller
 * hanging up: then, as 499). The request id comes from the request's logger (`reqId`). It names the
 * key by id only; headers, bodies and raw URLs are never logged. 5xx are errors, with their cause
 * (`error: {type, code, message}` for the API's own errors, `err` with its stack for anything
 * unexpected); a stream that failed after its 200 is a warning; everything else, 4xx included, is info.
 */
export function logAccess(log: FastifyBaseLogger, o: RequestOutcome, keyId: string | undefined, failure: Error | null) {
  const s = o.stats;
  const model = s.model !== undefined && s.model.length > MAX_MODEL_CHARS ? s.model.slice(0, MAX_MODEL_CHARS) : s.model;
  const line = {
    keyId,
    route: o.route,
    method: o.method,
    status: o.status,
    model,
    latencyMs: ms(o.durationMs),
    upstreamMs: o.upstreamCalled ? ms(s.upstreamMs) : undefined,
    overheadMs: o.upstreamCalled ? ms(o.overheadMs) : undefined,
    ttftMs: s.ttftMs === undefined ? undefined : ms(s.ttftMs),
    provider: s.provider,
    deployment: s.deployment,
    attempts: s.attempts || undefined,
    promptTokens: s.promptTokens,
    completionTokens: s.completionTokens,
    cache: s.cache,
    retries: s.retries,
    costUsd: s.costUsd ?? undefined,
    estimated: s.usage?.estimated || undefined,
    upstreamStatus: s.upstreamStatus,
    upstreamError: s.upstreamError,
    rateLimited: s.rateLimited,
    stream: s.stream,
  };
  if (o.status === CLIENT_CLOSED) log.info(line, 'request aborted by the client');
  else if (o.status < 500 && s.stream === 'error') log.warn(line, 'stream failed after the response started');
  else if (o.status < 500) log.info(line, 'request completed');
  else {
    // Unexpected exceptions go under pino's `err` (type, message, stack); mapped ones under `error`.
    const error = mapped(failure);
    log.error(error ? { ...line, error } : failure ? { ...line, err: failure } : line, 'request failed');
  }
}
