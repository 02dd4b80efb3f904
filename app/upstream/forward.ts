import { performance } from 'node:perf_hooks';
import {
  ApiError,
  UpstreamClientError,
  UpstreamError,
  UpstreamTimeoutError,
  normaliseErrorBody,
  type ErrorBody,
} from '../errors';
import type { RequestStats } from '../lib/request-stats';
import { isTimeout, type UpstreamClient, type UpstreamRequest, type UpstreamResponse } from './client';

/** Anything that looks like an API key, including OpenAI's masked echo of one (`sk-proj-****abcd`). */
const KEY_LIKE = /\b(sk|rk|pk)-[A-Za-z0-9_*\-]{4,}/g;

function scrub(body: ErrorBody): ErrorBody {
  const e = body.error;
  return { error: { ...e, message: e.message.replace(KEY_LIKE, '[redacted]') } };
}

/** What `forward` records about the upstream call. */
export type UpstreamStats = Pick<RequestStats, 'upstreamMs' | 'retries' | 'upstreamStatus' | 'upstreamError'>;

/**
 * Calls the upstream and maps what comes back to the API's contract: resolves with a 2xx response
 * (its body still unread), or throws the ApiError the caller should see. Records timing, retries
 * and the failure kind in `stats`.
 */
export async function forward(
  upstream: UpstreamClient,
  req: UpstreamRequest,
  stats: UpstreamStats,
): Promise<UpstreamResponse> {
  const started = performance.now();
  let res: UpstreamResponse;
  try {
    res = await upstream.request(req);
  } catch (err) {
    stats.upstreamMs += performance.now() - started;
    if (err instanceof UpstreamTimeoutError) stats.upstreamError = 'timeout';
    else if (err instanceof ApiError) stats.upstreamError = 'connection';
    throw err;
  }
  stats.upstreamMs += performance.now() - started;
  stats.retries += res.retries;
  stats.upstreamStatus = res.statusCode;
  if (res.statusCode < 400) return res;

  const text = await res.body.text().catch(() => '');
  if (res.statusCode >= 500) {
    stats.upstreamError = 'status_5xx';
    throw new UpstreamError(`The upstream model server answered ${res.statusCode}.`);
  }
  if (res.statusCode === 401 || res.statusCode === 403) {
    // The gateway's own upstream credentials were refused: the caller can do nothing about it, and
    // the upstream's message may echo part of our key.
    stats.upstreamError = 'status_4xx';
    throw new UpstreamError("The upstream model server rejected the gateway's credentials.");
  }
  stats.upstreamError = res.statusCode === 429 ? 'status_429' : 'status_4xx';
  const headers: Record<string, string> = {};
  const retryAfter = res.headers['retry-after'];
  if (typeof retryAfter === 'string') headers['retry-after'] = retryAfter;
  throw new UpstreamClientError(res.statusCode, scrub(normaliseErrorBody(res.statusCode, text)), headers);
}

/**
 * Reads a 2xx answer's JSON body. A body that breaks off or stalls, or is not JSON, is the
 * upstream's failure (502/504), never relayed as a success nor blamed on the caller's JSON.
 */
export async function readJsonBody(
  res: UpstreamResponse,
  stats: RequestStats,
  signal?: AbortSignal,
): Promise<{ text: string; json: unknown }> {
  const started = performance.now();
  let text: string;
  try {
    text = await res.body.text();
  } catch (err) {
    if (signal?.aborted) throw err;
    if (isTimeout(err)) {
      stats.upstreamError = 'timeout';
      throw new UpstreamTimeoutError();
    }
    stats.upstreamError = 'stream';
    throw new UpstreamError('The upstream model server broke off its answer.');
  } finally {
    stats.upstreamMs += performance.now() - started;
  }
  try {
    return { text, json: JSON.parse(text) };
  } catch {
    stats.upstreamError = 'stream';
    throw new UpstreamError('The upstream model server sent a malformed answer.');
  }
}
