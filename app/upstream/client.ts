import { setTimeout as sleep } from 'node:timers/promises';
import { Pool, errors as undiciErrors, type Dispatcher } from 'undici';
import { UpstreamError, UpstreamTimeoutError } from '../errors';

export interface UpstreamOptions {
  /** Base URL including the version path, e.g. `https://api.openai.com/v1`. */
  baseUrl: string;
  /** Sent as `Authorization: Bearer`; absent for servers that need none (local vLLM, Ollama). */
  apiKey?: string;
  /** Time to response headers, and the longest silence between body chunks. */
  timeoutMs: number;
  maxRetries: number;
  maxConnections?: number;
  /** Backoff base; the n-th retry waits a random time up to base·2ⁿ (full jitter), capped at 8 s. */
  retryBaseMs?: number;
  /** For tests: a dispatcher other than the keep-alive pool. */
  dispatcher?: Dispatcher;
}

export interface UpstreamRequest {
  method: 'GET' | 'POST';
  /** Path below the base URL, e.g. `/chat/completions`. */
  path: string;
  body?: string | Buffer;
  signal?: AbortSignal;
  /** Extra headers (the caller's own are never forwarded wholesale). */
  headers?: Record<string, string>;
}

export interface UpstreamResponse {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  body: Dispatcher.ResponseData['body'];
  /** How many retries it took. */
  retries: number;
}

export interface UpstreamClient {
  /**
   * Sends a request, retrying connection errors, 429 and 5xx with backoff while nothing has reached
   * the caller (this only returns once headers arrive, so retries can never follow a first byte).
   * Resolves with any 2xx/4xx answer (and with the final 429/5xx once retries are spent); rejects with
   * UpstreamError / UpstreamTimeoutError when no answer could be had.
   */
  request(req: UpstreamRequest): Promise<UpstreamResponse>;
  close(): Promise<void>;
}

const RETRYABLE_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
]);
/** A retry-after longer than this is handed to the caller instead of waited out. */
const MAX_RETRY_AFTER_MS = 8000;

export function createUpstreamClient(opts: UpstreamOptions): UpstreamClient {
  const base = new URL(opts.baseUrl.endsWith('/') ? opts.baseUrl : `${opts.baseUrl}/`);
  const basePath = base.pathname.replace(/\/$/, '');
  const dispatcher =
    opts.dispatcher ??
    new Pool(base.origin, {
      connections: opts.maxConnections ?? 256,
      keepAliveTimeout: 30_000,
      headersTimeout: opts.timeoutMs,
      bodyTimeout: opts.timeoutMs,
      connect: { timeout: Math.min(opts.timeoutMs, 10_000) },
    });
  const authHeader = opts.apiKey ? `Bearer ${opts.apiKey}` : undefined;
  const retryBase = opts.retryBaseMs ?? 250;

  function buildHeaders(extra: Record<string, string> | undefined, hasBody: boolean): Record<string, string> {
    const headers: Record<string, string> = { accept: extra?.accept ?? 'application/json', ...extra };
    if (hasBody) headers['content-type'] = 'application/json';
    if (authHeader) headers.authorization = authHeader;
    return headers;
  }
  // The common cases are built once (undici only reads them), not per request.
  const plainHeaders = Object.freeze(buildHeaders(undefined, false));
  const jsonHeaders = Object.freeze(buildHeaders(undefined, true));

  function once(req: UpstreamRequest) {
    const hasBody = req.body !== undefined;
    const headers = req.headers ? buildHeaders(req.headers, hasBody) : hasBody ? jsonHeaders : plainHeaders;
    return dispatcher.request({
      origin: base.origin,
      method: req.method,
      path: basePath + req.path,
      headers,
      body: req.body,
      signal: req.signal,
      headersTimeout: opts.timeoutMs,
      bodyTimeout: opts.timeoutMs,
    });
  }

  return {
    async request(req) {
      for (let attempt = 0; ; attempt++) {
        const retriesLeft = attempt < opts.maxRetries;
        let res: Dispatcher.ResponseData;
        try {
          res = await once(req);
        } catch (err) {
          if (req.signal?.aborted) throw err;
          if (isTimeout(err)) throw new UpstreamTimeoutError();
          if (retriesLeft && isRetryable(err)) {
            await sleep(backoff(attempt, retryBase), undefined, { signal: req.signal });
            continue;
          }
          throw new UpstreamError();
        }
        const status = res.statusCode;
        if ((status === 429 || status >= 500) && retriesLeft) {
          const retryAfter = parseRetryAfter(res.headers['retry-after']);
          if (retryAfter === undefined || retryAfter <= MAX_RETRY_AFTER_MS) {
            await res.body.dump().catch(() => undefined);
            await sleep(Math.max(retryAfter ?? 0, backoff(attempt, retryBase)), undefined, { signal: req.signal });
            continue;
          }
        }
        return { statusCode: status, headers: res.headers, body: res.body, retries: attempt };
      }
    },
    close: () => dispatcher.close(),
  };
}

function backoff(attempt: number, baseMs: number): number {
  return Math.random() * Math.min(8000, baseMs * 2 ** attempt);
}

function parseRetryAfter(value: string | string[] | undefined): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return undefined;
  const seconds = Number(v);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(v);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

export function isTimeout(err: unknown): boolean {
  return (
    err instanceof undiciErrors.HeadersTimeoutError ||
    err instanceof undiciErrors.BodyTimeoutError ||
    (err as { code?: string })?.code === 'UND_ERR_HEADERS_TIMEOUT' ||
    (err as { code?: string })?.code === 'UND_ERR_BODY_TIMEOUT'
  );
}

function isRetryable(err: unknown): boolean {
  const code = (err as { code?: string })?.code ?? (err as { cause?: { code?: string } })?.cause?.code;
  return code !== undefined && RETRYABLE_CODES.has(code);
}
