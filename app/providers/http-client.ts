/**
 * The HTTP leg shared by the OpenAI and Anthropic adapters: a keep-alive pool to one origin, one
 * attempt per call, timeouts split into time-to-headers and longest silence mid-body, and every
 * failure mapped to the API's errors (http-errors.ts).
 */
import { Pool, type Dispatcher } from 'undici';
import { UpstreamError, type ErrorBody } from '../errors';
import { toJson } from '../lib/json';
import { errorForFailure, errorForStatus, retryAfterOf } from './http-errors';

export interface HttpClientOptions {
  /** Base URL; its path prefixes every call and its query string is appended to each. */
  baseUrl: string;
  timeoutMs: number;
  idleTimeoutMs: number;
  maxConnections?: number;
  dispatcher?: Dispatcher;
  /** Sent on every call after the caller's headers, so they cannot be overridden (auth lives here). */
  headers: Record<string, string>;
  /** Strings never to repeat in an error (the provider's key). */
  secrets: ReadonlyArray<string | undefined>;
  /** The provider's error text → ErrorResponse. @default normaliseErrorBody (OpenAI's shape) */
  normaliseError?: (status: number, text: string) => ErrorBody;
}

export interface CallOptions {
  signal?: AbortSignal;
  headers?: Record<string, string>;
  stream?: boolean;
  /** Time to headers for this call. @default the client's timeoutMs */
  timeoutMs?: number;
}

export interface HttpClient {
  /** Resolves with a 2xx answer (body unread); throws the API error for anything else. */
  call(method: 'GET' | 'POST' | 'DELETE', path: string, body: unknown, opts: CallOptions): Promise<Dispatcher.ResponseData>;
  /** A 2xx JSON body as text; a body that breaks off, stalls or is not a JSON object is a 502/504. */
  readText(res: Dispatcher.ResponseData, signal: AbortSignal | undefined): Promise<string>;
  close(): Promise<void>;
}

export function createHttpClient(opts: HttpClientOptions): HttpClient {
  const base = new URL(opts.baseUrl);
  const basePath = base.pathname.replace(/\/$/, '');
  const query = base.search;
  const dispatcher =
    opts.dispatcher ??
    new Pool(base.origin, {
      connections: opts.maxConnections ?? 256,
      keepAliveTimeout: 30_000,
      headersTimeout: opts.timeoutMs,
      bodyTimeout: opts.idleTimeoutMs,
      connect: { timeout: Math.min(opts.timeoutMs, 10_000) },
    });

  return {
    async call(method, path, body, o) {
      const headers: Record<string, string> = {
        ...o.headers,
        ...opts.headers,
        accept: o.stream ? 'text/event-stream' : 'application/json',
      };
      if (body !== undefined) headers['content-type'] = 'application/json';
      let res: Dispatcher.ResponseData;
      try {
        res = await dispatcher.request({
          origin: base.origin,
          method,
          // A base URL's own query (Azure's api-version) goes along with the path's.
          path: basePath + path + (query ? (path.includes('?') ? `&${query.slice(1)}` : query) : ''),
          headers,
          body: body === undefined ? undefined : toJson(body),
          signal: o.signal,
          headersTimeout: o.timeoutMs ?? opts.timeoutMs,
          bodyTimeout: opts.idleTimeoutMs,
        });
      } catch (err) {
        throw errorForFailure(err, o.signal, 'request');
      }
      if (res.statusCode < 300) return res;
      const text = await res.body.text().catch(() => '');
      throw errorForStatus(res.statusCode, text, retryAfterOf(res.headers), opts.secrets, opts.normaliseError);
    },

    async readText(res, signal) {
      let text: string;
      try {
        text = await res.body.text();
      } catch (err) {
        throw errorForFailure(err, signal, 'body');
      }
      // A cheap shape check instead of a parse: a body cut short or an HTML error page is the upstream's failure.
      const t = text.trim();
      if (!t.startsWith('{') || !t.endsWith('}')) throw new UpstreamError('The upstream model server sent a malformed answer.');
      return text;
    },

    close: () => (opts.dispatcher ? Promise.resolve() : dispatcher.close()),
  };
}
