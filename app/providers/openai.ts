/**
 * Any OpenAI-compatible server (OpenAI, Azure OpenAI, vLLM, Ollama, llama.cpp, the offline mock):
 * the OpenAI surfaces go through as they are, Messages by translation to chat. One attempt per
 * send; the router retries.
 */
import type { Dispatcher } from 'undici';
import { InvalidRequestError, UpstreamError } from '../errors';
import { parseJson } from '../lib/json';
import type { ChatChunk, ChatCompletion, ChatRequest } from '../translate/types';
import type { ChatCall } from './chat-call';
import { errorForFailure } from './http-errors';
import { createHttpClient } from './http-client';
import { sseEvents } from './sse-events';
import type { ObjectRequest, ProviderAdapter, ProviderRequest, ProviderResponse, ProviderType, StreamEvent, Surface } from './types';
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
  const authName = (opts.authHeader ?? 'authorization').toLowerCase();
  const auth: Record<string, string> = opts.apiKey
    ? { [authName]: authName === 'authorization' ? `Bearer ${opts.apiKey}` : opts.apiKey }
    : {};
  const http = createHttpClient({
    baseUrl: opts.baseUrl,
    timeoutMs: opts.timeoutMs,
    idleTimeoutMs: opts.idleTimeoutMs,
    maxConnections: opts.maxConnections,
    dispatcher: opts.dispatcher,
    headers: { ...opts.headers, ...auth },
    secrets: [opts.apiKey],
  });
  const call = http.call;
  const readText = http.readText;

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

  /** Chat for the translated Messages surface: Anthropic's version and beta headers mean nothing here. */
  const chatCall: ChatCall = async (body: ChatRequest, req: ProviderRequest) => {
    const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !k.toLowerCase().startsWith('anthropic-')));
    const res = await call('POST', PATHS.chat, body, { signal: req.signal, headers, stream: Boolean(body.stream) });
    const answerHeaders = usefulHeaders(res.headers);
    if (!body.stream) {
      return { kind: 'json', completion: parseJson(await readText(res, req.signal)) as ChatCompletion, headers: answerHeaders };
    }
    return { kind: 'stream', chunks: chunksOf(events(res, 'chat', req.signal)), headers: answerHeaders };
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
    async objectRequest(req: ObjectRequest): Promise<ProviderResponse> {
      const stream = /[?&]stream=true(&|$)/.test(req.path);
      const body = req.body === undefined ? undefined : parseJson(req.body);
      const res = await call(req.method, req.path, body, { signal: req.signal, headers: req.headers, stream });
      const headers = usefulHeaders(res.headers);
      if (!stream) return { kind: 'json', body: await readText(res, req.signal), headers };
      return { kind: 'stream', events: events(res, 'responses', req.signal), headers };
    },
    async probe(): Promise<void> {
      const timeout = opts.probeTimeoutMs ?? Math.min(opts.timeoutMs, 5000);
      const signal = AbortSignal.timeout(timeout);
      try {
        const res = await call('GET', '/models', undefined, { signal, timeoutMs: timeout });
        await res.body.dump();
      } catch (err) {
        // A server without /models is still up; refused credentials or 5xx are not.
        if (err instanceof Error && 'status' in err && (err as { status: number }).status === 404) return;
        throw signal.aborted ? new UpstreamError('The upstream model server did not answer the probe in time.') : err;
      }
    },
    close: () => http.close(),
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

