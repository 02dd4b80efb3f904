/**
 * The built-in offline upstream: a node:http server speaking enough of OpenAI's protocol for the
 * gateway to run with no network and no key. The routing is a pure function (`mockReply`) so the
 * test fake upstream can reuse it and add faults around it.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  errorResponse,
  mockChatChunks,
  mockChatCompletion,
  mockEmbeddings,
  mockModel,
  mockModels,
  type ChatCompletionRequest,
  type EmbeddingRequest,
  type MockOptions,
} from './mock-responses';
import type { ResponsesRequest } from '../translate/types';
import { mockCompletion, mockCompletionChunks, mockModeration, type CompletionRequest } from './mock-legacy';
import { mockResponse, mockResponseEvents } from './mock-responses-api';
import { forget, forgetChat, recall, recallChat, remember, rememberChat } from './mock-stored';
import { randomBytes } from 'node:crypto';
import { frameEvent } from '../pipeline/sse-frame';

export type MockReply =
  | { kind: 'json'; status: number; body: unknown }
  /**
   * `named`: each chunk is a Responses event, written with its `event:` name (its `type`) and no
   * closing `[DONE]`, as OpenAI streams /v1/responses.
   */
  | { kind: 'sse'; chunks: unknown[]; named?: boolean };

const POST_ROUTES = new Set([
  'POST /v1/chat/completions',
  'POST /v1/embeddings',
  'POST /v1/responses',
  'POST /v1/completions',
  'POST /v1/moderations',
]);

/**
 * Request bodies past this are refused. Above the gateway's default BODY_LIMIT_BYTES (32 MiB, plus
 * what the gateway adds), so offline every body the gateway accepts reaches the mock.
 */
export const MOCK_BODY_LIMIT_BYTES = 64 * 1024 * 1024;

function invalid(message: string, param: string | null = null): MockReply {
  return { kind: 'json', status: 400, body: errorResponse(message, 'invalid_request_error', param) };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** What the mock upstream answers to `method url` with the raw request body. */
export function mockReply(method: string, url: string, raw: string, opts: MockOptions = {}): MockReply {
  const path = url.split('?')[0].replace(/\/+$/, '');
  const route = `${method.toUpperCase()} ${path}`;

  if (route === 'GET /v1/models') return { kind: 'json', status: 200, body: mockModels() };
  if (method.toUpperCase() === 'GET' && path.startsWith('/v1/models/')) {
    const id = decodeURIComponent(path.slice('/v1/models/'.length));
    const model = mockModel(id);
    return model
      ? { kind: 'json', status: 200, body: model }
      : {
          kind: 'json',
          status: 404,
          body: errorResponse(`The model '${id}' does not exist`, 'invalid_request_error', 'model', 'model_not_found'),
        };
  }
  const stored = /^\/v1\/responses\/([^/]+)(\/cancel|\/input_items)?$/.exec(path);
  if (stored) return storedResponseReply(method.toUpperCase(), decodeURIComponent(stored[1]), stored[2]);
  const storedChat = /^\/v1\/chat\/completions\/([^/]+)(\/messages)?$/.exec(path);
  if (storedChat) return storedChatReply(method.toUpperCase(), decodeURIComponent(storedChat[1]), storedChat[2], raw);
  if (!POST_ROUTES.has(route)) {
    return { kind: 'json', status: 404, body: errorResponse(`Invalid URL (${route})`, 'invalid_request_error') };
  }

  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch {
    return invalid('We could not parse the JSON body of your request. The API expects a JSON payload.');
  }
  if (!isObject(body)) return invalid('The request body must be a JSON object.');
  if (path === '/v1/moderations') {
    if (body.input === undefined || body.input === null || body.input === '') {
      return invalid("'input' is a required property", 'input');
    }
    return { kind: 'json', status: 200, body: mockModeration(body) };
  }
  if (typeof body.model !== 'string' || body.model === '') {
    return invalid('you must provide a model parameter', 'model');
  }
  if (path === '/v1/responses') {
    if (body.input === undefined && body.instructions === undefined) return invalid("'input' is required", 'input');
    const request = body as ResponsesRequest;
    if (body.stream === true) {
      const events = mockResponseEvents(request, opts);
      const done = events.at(-1) as { response?: unknown } | undefined;
      if (done?.response) remember(request, done.response as never);
      return { kind: 'sse', chunks: events, named: true };
    }
    const response = mockResponse(request, opts);
    remember(request, response);
    return { kind: 'json', status: 200, body: response };
  }
  if (path === '/v1/completions') {
    if (body.prompt === undefined || body.prompt === null) return invalid("'prompt' is a required property", 'prompt');
    const request = body as CompletionRequest;
    return body.stream === true
      ? { kind: 'sse', chunks: mockCompletionChunks(request, opts) }
      : { kind: 'json', status: 200, body: mockCompletion(request, opts) };
  }

  if (path === '/v1/embeddings') {
    const input = body.input;
    if (input === undefined || input === null || input === '' || (Array.isArray(input) && input.length === 0)) {
      return invalid("'input' is a required property and must not be empty", 'input');
    }
    return { kind: 'json', status: 200, body: mockEmbeddings(body as EmbeddingRequest) };
  }

  if (!Array.isArray(body.messages) || body.messages.length === 0) {
    return invalid("'messages' must be a non-empty array", 'messages');
  }
  const chat = body as ChatCompletionRequest;
  if (body.store === true) {
    // A stored completion gets an id of its own (the mock's ids are otherwise a hash of the body).
    const id = `chatcmpl-${randomBytes(15).toString('hex')}`;
    const completion = { ...mockChatCompletion(chat, opts), id, metadata: isObject(body.metadata) ? body.metadata : null };
    rememberChat(chat.messages, completion);
    return chat.stream === true
      ? { kind: 'sse', chunks: mockChatChunks(chat, opts).map((c) => ({ ...c, id })) }
      : { kind: 'json', status: 200, body: completion };
  }
  return chat.stream === true
    ? { kind: 'sse', chunks: mockChatChunks(chat, opts) }
    : { kind: 'json', status: 200, body: mockChatCompletion(chat, opts) };
}

/** GET, update (POST, `metadata`), DELETE and messages of a chat completion the mock stored. */
function storedChatReply(method: string, id: string, sub: string | undefined, raw: string): MockReply {
  const found = recallChat(id);
  if (!found) {
    return { kind: 'json', status: 404, body: errorResponse(`No chat completion found with id '${id}'.`, 'invalid_request_error') };
  }
  if (sub === undefined && method === 'GET') return { kind: 'json', status: 200, body: found.completion };
  if (sub === undefined && method === 'POST') {
    let update: unknown;
    try {
      update = JSON.parse(raw);
    } catch {
      return invalid('We could not parse the JSON body of your request. The API expects a JSON payload.');
    }
    if (!isObject(update) || !isObject(update.metadata)) return invalid("'metadata' is a required property", 'metadata');
    found.completion = { ...found.completion, metadata: update.metadata };
    return { kind: 'json', status: 200, body: found.completion };
  }
  if (sub === undefined && method === 'DELETE') {
    forgetChat(id);
    return { kind: 'json', status: 200, body: { object: 'chat.completion.deleted', id, deleted: true } };
  }
  if (sub === '/messages' && method === 'GET') {
    const ids = found.messages.map((m) => (m as { id: string }).id);
    return {
      kind: 'json',
      status: 200,
      body: { object: 'list', data: found.messages, first_id: ids[0] ?? '', last_id: ids.at(-1) ?? '', has_more: false },
    };
  }
  return { kind: 'json', status: 404, body: errorResponse(`Invalid URL (${method} /v1/chat/completions/${id}${sub ?? ''})`, 'invalid_request_error') };
}

/** GET, DELETE, cancel and input_items of a response the mock stored. */
function storedResponseReply(method: string, id: string, sub: string | undefined): MockReply {
  const found = recall(id);
  if (!found) {
    return { kind: 'json', status: 404, body: errorResponse(`No response found with id '${id}'.`, 'invalid_request_error') };
  }
  if (method === 'GET' && sub === undefined) return { kind: 'json', status: 200, body: found.response };
  if (method === 'DELETE' && sub === undefined) {
    forget(id);
    return { kind: 'json', status: 200, body: { id, object: 'response', deleted: true } };
  }
  if (method === 'POST' && sub === '/cancel') {
    return { kind: 'json', status: 200, body: { ...found.response, status: 'cancelled' } };
  }
  if (method === 'GET' && sub === '/input_items') {
    const data = found.input;
    const ids = data.map((i) => (i as { id: string }).id);
    return { kind: 'json', status: 200, body: { object: 'list', data, first_id: ids[0] ?? null, last_id: ids.at(-1) ?? null, has_more: false } };
  }
  return { kind: 'json', status: 404, body: errorResponse(`Invalid URL (${method} /v1/responses/${id}${sub ?? ''})`, 'invalid_request_error') };
}

/** Reads the whole body as UTF-8; past `limit` bytes it drains the rest and rejects. */
export function readBody(req: IncomingMessage, limit = MOCK_BODY_LIMIT_BYTES): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    req.on('data', (part: Buffer) => {
      size += part.length;
      if (size <= limit) parts.push(part);
    });
    req.on('end', () =>
      size > limit ? reject(new BodyTooLargeError()) : resolve(Buffer.concat(parts).toString('utf8')),
    );
    req.on('error', reject);
  });
}

export class BodyTooLargeError extends Error {
  constructor() {
    super('request body too large');
  }
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

export function startEventStream(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
  res.flushHeaders();
}

/** OpenAI's last event of a chat or completions stream (Responses streams end without it). */
export const DONE_EVENT = frameEvent({ data: '[DONE]' });

/** One event, framed as the gateway frames its own (pipeline/sse-frame.ts); named by its `type` for Responses. */
export function writeEvent(res: ServerResponse, data: unknown, named = false): void {
  const name = named ? (data as { type?: unknown }).type : undefined;
  res.write(frameEvent({ event: typeof name === 'string' ? name : undefined, data: typeof data === 'string' ? data : JSON.stringify(data) }));
}

/**
 * Writes each chunk as a `data:` event, then `data: [DONE]` (named Responses events end without
 * it); stops early if the client has gone.
 */
export async function sendEventStream(res: ServerResponse, chunks: unknown[], delayMs = 0, named = false): Promise<void> {
  startEventStream(res);
  for (const chunk of chunks) {
    if (res.destroyed) return;
    writeEvent(res, chunk, named);
    if (delayMs > 0) await sleep(delayMs);
  }
  if (!res.destroyed) res.end(named ? undefined : DONE_EVENT);
}

export interface MockUpstreamOptions {
  /** @default '127.0.0.1' */
  host?: string;
  /** @default 0 (a free port) */
  port?: number;
  /** Pause between streamed chunks, so an offline stream looks like one. @default 0 */
  streamDelayMs?: number;
}

export interface MockUpstream {
  /** Base URL ending in `/v1`, ready for `OPENAI_BASE_URL`. */
  url: string;
  close(): Promise<void>;
}

export function baseUrl(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}/v1`;
}

export async function startMockUpstream(opts: MockUpstreamOptions = {}): Promise<MockUpstream> {
  const host = opts.host ?? '127.0.0.1';
  const server = createServer((req, res) => {
    readBody(req)
      .then((raw) => {
        const reply = mockReply(req.method ?? 'GET', req.url ?? '/', raw);
        if (reply.kind === 'json') sendJson(res, reply.status, reply.body);
        else return sendEventStream(res, reply.chunks, opts.streamDelayMs, reply.named);
        return undefined;
      })
      .catch((err: unknown) => {
        if (err instanceof BodyTooLargeError && !res.headersSent) {
          sendJson(res, 413, errorResponse('Request body too large.', 'invalid_request_error'));
        } else {
          res.destroy();
        }
      });
  });
  // Longer than any client pool's idle timeout, so a reused socket is never closed under a request.
  server.keepAliveTimeout = 65_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: baseUrl(host, port),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
