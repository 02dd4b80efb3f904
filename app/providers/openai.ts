/**
 * Any OpenAI-compatible server (OpenAI, Azure OpenAI, vLLM, Ollama, llama.cpp, the offline mock):
 * the OpenAI surfaces go through as they are, Messages by translation to chat. One attempt per
 * send; the router retries.
 */
import { Pool, type Dispatcher } from 'undici';
import { InvalidRequestError, UpstreamError } from '../errors';
import { parseJson, toJson } from '../lib/json';
import type { ChatChunk, ChatCompletion, ChatRequest } from '../translate/types';
import type { ChatCall } from './chat-call';
import { errorForFailure, errorForStatus, retryAfterOf } from './http-errors';
import { sseEvents } from './sse-events';
import type { ProviderAdapter, ProviderRequest, ProviderResponse, ProviderType, StreamEvent, Surface } from './types';
import { messagesViaChat } from './via-chat';

export interface OpenAIProviderOptions {
  name: string;
  /** Base URL including the version path, e.g. `https://api.openai.com/v1`. */
  baseUrl: string;
  /** The provider's key; absent for servers that need none (local vLLM, Ollama). */
  apiKey?: string;
  /**
   * Header that carries the key. `authorization` (the default) sends `Bearer <key>`; any other
   * name (Azure's `api-key`) sends the raw key.
   */
  authHeader?: string;
  /** Extra headers on every request (Azure's api-version lives in the base URL's query instead). */
  headers?: Record<string, string>;
  /** Time to response headers. */
  timeoutMs: number;
  /** Longest silence while the body is arriving. */
  idleTimeoutMs: number;
  /** @default 256 */
  maxConnections?: number;
  /** A dispatcher other than the provider's own keep-alive pool (tests, proxies). */
  dispatcher?: Dispatcher;
  /** Reported as the adapter's type: `mock` for the offline upstream. @default 'openai' */
  type?: Extract<ProviderType, 'openai' | 'mock'>;
  /** @default min(timeoutMs, 5000) */
  probeTimeoutMs?: number;
}

const PATHS: Record<Exclude<Surface, 'messages'>, string> = {
  chat: '/chat/completions',
  embeddings: '/embeddings',
  responses: '/responses',
  completions: '/completions',
  moderations: '/moderations',
};

/** Upstream response headers worth handing on: the provider's request id, its processing time. */
function usefulHeaders(h: Dispatcher.ResponseData['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  const id = h['x-request-id'];
  if (typeof id === 'string') out['x-upstream-request-id'] = id;
  const ms = h['openai-processing-ms'];
  if (typeof ms === 'string') out['openai-processing-ms'] = ms;
  return out;
}

export function createOpenAIProvider(opts: OpenAIProviderOptions): ProviderAdapter {
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
  const authName = (opts.authHeader ?? 'authorization').toLowerCase();
  const auth: Record<string, string> = opts.apiKey
    ? { [authName]: authName === 'authorization' ? `Bearer ${opts.apiKey}` : opts.apiKey }
    : {};
  const secrets = [opts.apiKey];

  async function call(
    method: 'GET' | 'POST',
    path: string,
    body: unknown,
    req: { signal?: AbortSignal; headers?: Record<string, string>; stream?: boolean },
    timeoutMs = opts.timeoutMs,
  ): Promise<Dispatcher.ResponseData> {
    const headers: Record<string, string> = {
      ...req.headers,
      ...opts.headers,
      ...auth,
      accept: req.stream ? 'text/event-stream' : 'application/json',
    };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Dispatcher.ResponseData;
    try {
      res = await dispatcher.request({
        origin: base.origin,
        method,
        path: basePath + path + query,
        headers,
        body: body === undefined ? undefined : toJson(body),
        signal: req.signal,
        headersTimeout: timeoutMs,
        bodyTimeout: opts.idleTimeoutMs,
      });
    } catch (err) {
      throw errorForFailure(err, req.signal, 'request');
    }
    if (res.statusCode < 300) return res;
    const text = await res.body.text().catch(() => '');
    throw errorForStatus(res.statusCode, text, retryAfterOf(res.headers), secrets);
  }

  async function readText(res: Dispatcher.ResponseData, signal: AbortSignal): Promise<string> {
    let text: string;
    try {
      text = await res.body.text();
    } catch (err) {
      throw errorForFailure(err, signal, 'body');
    }
    // A cheap shape check: a body cut short or an HTML error page is the upstream's failure.
    const t = text.trim();
    if (!t.startsWith('{') || !t.endsWith('}')) throw new UpstreamError('The upstream model server sent a malformed answer.');
    return text;
  }

  /**
   * The upstream's events as they arrive. Chat-style surfaces must end with `[DONE]` and the
   * Responses stream with a terminal event; anything else that ends is cut short. An `{error}`
   * payload is yielded and ends the stream (the pipeline scrubs it before the caller sees it).
   */
  async function* events(res: Dispatcher.ResponseData, surface: Surface, signal: AbortSignal): AsyncGenerator<StreamEvent> {
    let finished = false;
    try {
      for await (const e of sseEvents(res.body)) {
        yield e;
        if (e.data === '[DONE]' || e.data.startsWith('{"error"')) {
          finished = true;
          break;
        }
        if (surface === 'responses' && /^response\.(completed|failed|incomplete)$/.test(e.event ?? '')) finished = true;
        if (surface === 'responses' && e.event === 'error') finished = true;
      }
    } catch (err) {
      throw errorForFailure(err, signal, 'body');
    } finally {
      if (!res.body.destroyed) res.body.destroy();
    }
    if (!finished) throw new UpstreamError('The upstream model server ended the stream early.');
  }

  const chatCall: ChatCall = async (body: ChatRequest, req: ProviderRequest) => {
    const res = await call('POST', PATHS.chat, body, { signal: req.signal, headers: req.headers, stream: Boolean(body.stream) });
    const headers = usefulHeaders(res.headers);
    if (!body.stream) {
      return { kind: 'json', completion: parseJson(await readText(res, req.signal)) as ChatCompletion, headers };
    }
    return { kind: 'stream', chunks: chunksOf(events(res, 'chat', req.signal)), headers };
  };

  return {
    name: opts.name,
    type: opts.type ?? 'openai',
    supports: () => true,
    async send(req: ProviderRequest): Promise<ProviderResponse> {
      if (req.surface === 'messages') return messagesViaChat(chatCall, req);
      const path = PATHS[req.surface];
      if (!path) throw new InvalidRequestError(`This provider does not serve ${String(req.surface)}.`);
      const res = await call('POST', path, req.body, { signal: req.signal, headers: req.headers, stream: req.stream });
      const headers = usefulHeaders(res.headers);
      if (!req.stream) return { kind: 'json', body: await readText(res, req.signal), headers };
      return { kind: 'stream', events: events(res, req.surface, req.signal), headers };
    },
    async probe(): Promise<void> {
      const timeout = opts.probeTimeoutMs ?? Math.min(opts.timeoutMs, 5000);
      const signal = AbortSignal.timeout(timeout);
      try {
        const res = await call('GET', '/models', undefined, { signal }, timeout);
        await res.body.dump();
      } catch (err) {
        // A server without /models is still up; refused credentials or 5xx are not.
        if (err instanceof Error && 'status' in err && (err as { status: number }).status === 404) return;
        throw signal.aborted ? new UpstreamError('The upstream model server did not answer the probe in time.') : err;
      }
    },
    close: () => (opts.dispatcher ? Promise.resolve() : dispatcher.close()),
  };
}

/** Chat chunks from chat SSE events; `[DONE]` ends them and an `{error}` event is thrown. */
export async function* chunksOf(events: AsyncIterable<StreamEvent>): AsyncGenerator<ChatChunk> {
  for await (const e of events) {
    if (e.data === '[DONE]') return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(e.data);
    } catch {
      throw new UpstreamError('The upstream model server sent a malformed event.');
    }
    if ((parsed as { error?: unknown }).error !== undefined) {
      throw new UpstreamError('The upstream model server failed during the stream.');
    }
    yield parsed as ChatChunk;
  }
}

