/**
 * The Anthropic API: Messages as they are (the caller's anthropic-version and anthropic-beta go
 * along, events pass through by name), chat and Responses by translation to Messages and back.
 */
import type { Dispatcher } from 'undici';
import { InvalidRequestError, UpstreamError } from '../errors';
import { parseJson } from '../lib/json';
import { chatToMessagesRequest } from '../translate/chat-to-messages-request';
import { MessagesToChatStream } from '../translate/messages-stream-to-chat';
import { messagesToChatResponse } from '../translate/messages-to-chat-response';
import type { ChatChunk, ChatRequest, MessagesResponse, MsgStreamEvent } from '../translate/types';
import { normaliseAnthropicError } from './anthropic-errors';
import { chatResultToResponse, type ChatCall } from './chat-call';
import { createHttpClient } from './http-client';
import { errorForFailure } from './http-errors';
import { sseEvents } from './sse-events';
import type { ProviderAdapter, ProviderRequest, ProviderResponse, StreamEvent } from './types';
import { responsesViaChat } from './via-chat';

export interface AnthropicProviderOptions {
  name: string;
  apiKey?: string;
  /** @default 'https://api.anthropic.com' */
  baseUrl?: string;
  /** Time to response headers. */
  timeoutMs: number;
  /** Longest silence while the body is arriving. */
  idleTimeoutMs: number;
  /** @default 256 */
  maxConnections?: number;
  dispatcher?: Dispatcher;
  /** @default min(timeoutMs, 5000) */
  probeTimeoutMs?: number;
}

/** The version sent when the caller names none (chat and Responses callers never do). */
export const DEFAULT_ANTHROPIC_VERSION = '2023-06-01';

function usefulHeaders(h: Dispatcher.ResponseData['headers']): Record<string, string> {
  const id = h['request-id'];
  return typeof id === 'string' ? { 'x-upstream-request-id': id } : {};
}

export function createAnthropicProvider(opts: AnthropicProviderOptions): ProviderAdapter {
  const http = createHttpClient({
    baseUrl: opts.baseUrl ?? 'https://api.anthropic.com',
    timeoutMs: opts.timeoutMs,
    idleTimeoutMs: opts.idleTimeoutMs,
    maxConnections: opts.maxConnections,
    dispatcher: opts.dispatcher,
    headers: opts.apiKey ? { 'x-api-key': opts.apiKey } : {},
    secrets: [opts.apiKey],
    normaliseError: normaliseAnthropicError,
  });

  function headersFor(req: ProviderRequest): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) {
      // OpenAI-only headers mean nothing to Anthropic.
      if (!k.toLowerCase().startsWith('openai-')) out[k] = v;
    }
    out['anthropic-version'] = req.headers['anthropic-version'] ?? DEFAULT_ANTHROPIC_VERSION;
    return out;
  }

  /**
   * Anthropic's events as they arrive. The stream is whole once message_stop has passed; an
   * `error` event is yielded and ends it (the pipeline scrubs it); anything else that ends is cut short.
   */
  async function* events(res: Dispatcher.ResponseData, signal: AbortSignal): AsyncGenerator<StreamEvent> {
    let finished = false;
    try {
      for await (const e of sseEvents(res.body)) {
        yield e;
        if (e.event === 'message_stop' || e.event === 'error') {
          finished = true;
          break;
        }
      }
    } catch (err) {
      throw errorForFailure(err, signal, 'body');
    } finally {
      if (!res.body.destroyed) res.body.destroy();
    }
    if (!finished) throw new UpstreamError('The upstream model server ended the stream early.');
  }

  async function messages(body: Record<string, unknown>, req: ProviderRequest, stream: boolean) {
    const res = await http.call('POST', '/v1/messages', { ...body, model: req.model, ...(stream ? { stream: true } : {}) }, {
      signal: req.signal,
      headers: headersFor(req),
      stream,
    });
    return { res, headers: usefulHeaders(res.headers) };
  }

  const chatCall: ChatCall = async (body: ChatRequest, req: ProviderRequest) => {
    const stream = Boolean(body.stream);
    const { request, jsonTool } = chatToMessagesRequest(body);
    const { res, headers } = await messages(request, req, stream);
    if (!stream) {
      const msg = parseJson(await http.readText(res, req.signal)) as MessagesResponse;
      return { kind: 'json', completion: messagesToChatResponse(msg, { jsonTool }), headers };
    }
    return { kind: 'stream', chunks: chatChunks(events(res, req.signal), req.model, jsonTool), headers };
  };

  return {
    name: opts.name,
    type: 'anthropic',
    supports: (surface) => surface === 'messages' || surface === 'chat' || surface === 'responses',
    async send(req: ProviderRequest): Promise<ProviderResponse> {
      switch (req.surface) {
        case 'messages': {
          const { res, headers } = await messages(req.body, req, req.stream);
          if (!req.stream) return { kind: 'json', body: await http.readText(res, req.signal), headers };
          return { kind: 'stream', events: events(res, req.signal), headers };
        }
        case 'chat':
          return chatResultToResponse(await chatCall({ ...(req.body as ChatRequest), model: req.model, stream: req.stream }, req));
        case 'responses':
          return responsesViaChat(chatCall, req);
        default:
          throw new InvalidRequestError(`The provider ${opts.name} does not serve ${req.surface}.`);
      }
    },
    async probe(): Promise<void> {
      const timeout = opts.probeTimeoutMs ?? Math.min(opts.timeoutMs, 5000);
      const signal = AbortSignal.timeout(timeout);
      try {
        const res = await http.call('GET', '/v1/models', undefined, {
          signal,
          timeoutMs: timeout,
          headers: { 'anthropic-version': DEFAULT_ANTHROPIC_VERSION },
        });
        await res.body.dump();
      } catch (err) {
        throw signal.aborted ? new UpstreamError('The upstream model server did not answer the probe in time.') : err;
      }
    },
    close: () => http.close(),
  };
}

/** Anthropic events → chat chunks; an `error` event is thrown, a stream without its stop reason too. */
async function* chatChunks(events: AsyncIterable<StreamEvent>, model: string, jsonTool: string | undefined): AsyncGenerator<ChatChunk> {
  const t = new MessagesToChatStream(model, jsonTool);
  for await (const e of events) {
    let parsed: MsgStreamEvent;
    try {
      parsed = JSON.parse(e.data) as MsgStreamEvent;
    } catch {
      throw new UpstreamError('The upstream model server sent a malformed event.');
    }
    yield* t.push(parsed);
  }
  if (!t.complete) throw new UpstreamError('The upstream model server ended the stream early.');
}
