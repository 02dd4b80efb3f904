/**
 * The upstream the end-to-end tests and benchmarks talk to: a real HTTP server on 127.0.0.1 that
 * answers like the offline mock upstream and can be told to misbehave, one request at a time or
 * until cleared. `close()` destroys every socket it holds, so jest can exit.
 *
 * Standalone (benchmarks): `tsx test/support/fake-upstream.ts` with optional PORT, HOST,
 * UPSTREAM_API_KEY and FAULT (a JSON Fault, e.g. '{"kind":"delay","ms":20}'); it prints its URL.
 */
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { errorResponse, errorResponseFor } from '../../app/upstream/mock-responses';
import {
  BodyTooLargeError,
  DONE_EVENT,
  baseUrl,
  mockReply,
  readBody,
  sendJson,
  startEventStream,
  writeEvent,
  type MockReply,
} from '../../app/upstream/mock-upstream';

export type Fault =
  /** Answer normally (useful inside a queue: fail, then succeed). */
  | { kind: 'none' }
  /** Answer `status` with `body` (default: OpenAI's error body for it; a string is sent as text). */
  | { kind: 'status'; status: number; retryAfter?: string; body?: unknown }
  /** Never answer; the socket stays open until the client gives up. */
  | { kind: 'hang' }
  /** Stream chunks `delayMs` apart (a non-streamed answer waits `delayMs` once). */
  | { kind: 'slow-stream'; delayMs: number }
  /** A non-JSON `data:` event mid-stream (a non-streamed answer gets a truncated JSON body). */
  | { kind: 'malformed-stream' }
  /** Destroy the socket after `afterChunks` events, no `[DONE]` (non-streamed: half the body). */
  | { kind: 'cut-stream'; afterChunks: number }
  /** Reset the connection as soon as the request has arrived. */
  | { kind: 'reset' }
  /** Wait `ms`, then answer normally. */
  | { kind: 'delay'; ms: number }
  /** Two chunks, then a `data: {"error": …}` event and the end, no `[DONE]` (streams only). */
  | { kind: 'stream-error' }
  /**
   * A careless server echoing the credential it was sent (Authorization, x-api-key or api-key) in
   * every field, as is, base64- and URL-encoded. Not streamed: `status` (default 400) with the
   * credential in message, type, param and code. Streamed: SSE comment lines carrying it, two
   * chunks, then an error event carrying it in every field, no `[DONE]`. On a `/messages` path the
   * bodies and the error event are Anthropic's shape.
   */
  | { kind: 'echo-credential'; status?: number };

export interface RecordedRequest {
  method: string;
  /** Path and query as received. */
  path: string;
  headers: IncomingHttpHeaders;
  /** Parsed JSON body, or undefined when empty or not JSON. */
  body: unknown;
  raw: string;
  /** `Date.now()` when the body had arrived. */
  at: number;
  fault: Fault;
  /** The client hung up before the answer was complete. */
  aborted: boolean;
}

export interface FakeUpstreamStats {
  requests: number;
  /** Requests whose client closed before the answer was complete. */
  aborted: number;
  openConnections: number;
}

export interface FakeUpstreamOptions {
  /** @default '127.0.0.1' */
  host?: string;
  /** @default 0 (a free port) */
  port?: number;
  /** When set, requests without `Authorization: Bearer <apiKey>` get 401 (before any fault). */
  apiKey?: string;
  /** Most recent requests kept in `requests`; 0 keeps none (long benchmarks). @default 1000 */
  logLimit?: number;
  /** Fixed `created` for answers; the clock when absent. */
  created?: number;
}

const NONE: Fault = { kind: 'none' };
/** What malformed-stream sends as one event's data: almost JSON, not quite. */
const GARBAGE = '{"id": "chatcmpl-broken", choices: [oops';

interface Waiter {
  done(): boolean;
  resolve(): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

function parseJson(raw: string): unknown {
  try {
    return raw ? JSON.parse(raw) : undefined;
  } catch {
    return undefined;
  }
}

export class FakeUpstream {
  readonly requests: RecordedRequest[] = [];
  private apiKey: string | undefined;
  private sticky: Fault | undefined;
  private queue: Fault[] = [];
  private requestCount = 0;
  private abortCount = 0;
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private waiters: Waiter[] = [];
  private readonly server: Server;
  private address: { host: string; port: number } | undefined;

  constructor(private readonly opts: FakeUpstreamOptions = {}) {
    this.apiKey = opts.apiKey;
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.keepAliveTimeout = 65_000;
    this.server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  async listen(): Promise<this> {
    const host = this.opts.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port ?? 0, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.address = { host, port: (this.server.address() as AddressInfo).port };
    return this;
  }

  /** Base URL ending in `/v1`. */
  get url(): string {
    if (!this.address) throw new Error('fake upstream is not listening: await listen() first');
    return baseUrl(this.address.host, this.address.port);
  }

  get port(): number {
    if (!this.address) throw new Error('fake upstream is not listening: await listen() first');
    return this.address.port;
  }

  get stats(): FakeUpstreamStats {
    return { requests: this.requestCount, aborted: this.abortCount, openConnections: this.sockets.size };
  }

  /** Applies `fault` to every later request (after any queued ones) until cleared. */
  setFault(fault: Fault | undefined): void {
    this.sticky = fault;
  }

  /** Faults for the next requests, one each, before the sticky fault applies again. */
  queueFaults(faults: Fault[]): void {
    this.queue.push(...faults);
  }

  clearFaults(): void {
    this.sticky = undefined;
    this.queue = [];
  }

  /** Requires `Authorization: Bearer <key>` from now on; undefined accepts anything. */
  requireApiKey(key: string | undefined): void {
    this.apiKey = key;
  }

  /** Forgets faults, the request log and the counters (open connections are left alone). */
  reset(): void {
    this.clearFaults();
    this.requests.length = 0;
    this.requestCount = 0;
    this.abortCount = 0;
  }

  /** Resolves once `count` client hang-ups have been seen since start or `reset()`. */
  waitForAbort(timeoutMs = 2000, count = 1): Promise<void> {
    return this.waitFor(() => this.abortCount >= count, timeoutMs, `${count} aborted request(s)`);
  }

  /** Resolves once `count` requests have arrived since start or `reset()`. */
  waitForRequests(count: number, timeoutMs = 2000): Promise<void> {
    return this.waitFor(() => this.requestCount >= count, timeoutMs, `${count} request(s)`);
  }

  async close(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const w of this.waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(new Error('fake upstream closed'));
    }
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  private waitFor(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        done,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          const stats = JSON.stringify(this.stats);
          reject(new Error(`fake upstream: timed out after ${timeoutMs} ms waiting for ${what} (${stats})`));
        }, timeoutMs),
      };
      this.waiters.push(waiter);
    });
  }

  private notify(): void {
    for (const w of this.waiters.filter((x) => x.done())) {
      clearTimeout(w.timer);
      this.waiters = this.waiters.filter((x) => x !== w);
      w.resolve();
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { method = 'GET', url = '/', headers } = req;
    let record: RecordedRequest | undefined;
    let deliberate = false;
    res.on('close', () => {
      if (res.writableFinished || deliberate) return;
      if (record) record.aborted = true;
      this.abortCount++;
      this.notify();
    });

    let raw: string;
    try {
      raw = await readBody(req);
    } catch (err) {
      if (err instanceof BodyTooLargeError) {
        sendJson(res, 413, errorResponse('Request body too large.', 'invalid_request_error'));
      }
      return;
    }

    const fault = this.queue.shift() ?? this.sticky ?? NONE;
    record = { method, path: url, headers, body: parseJson(raw), raw, at: Date.now(), fault, aborted: false };
    this.requestCount++;
    const limit = this.opts.logLimit ?? 1000;
    if (limit > 0) {
      this.requests.push(record);
      if (this.requests.length > limit) this.requests.splice(0, this.requests.length - limit);
    }
    this.notify();

    if (this.apiKey !== undefined && headers.authorization !== `Bearer ${this.apiKey}`) {
      sendJson(res, 401, errorResponseFor(401));
      return;
    }

    const reply = mockReply(method, url, raw, { created: this.opts.created });
    const destroy = (): void => {
      deliberate = true;
      res.socket?.destroy();
    };

    switch (fault.kind) {
      case 'none':
        return this.answer(res, reply);
      case 'status': {
        const extra: Record<string, string> = fault.retryAfter === undefined ? {} : { 'retry-after': fault.retryAfter };
        if (typeof fault.body === 'string') {
          res.writeHead(fault.status, { 'content-type': 'text/plain', ...extra });
          res.end(fault.body);
        } else {
          sendJson(res, fault.status, fault.body ?? errorResponseFor(fault.status), extra);
        }
        return;
      }
      case 'hang':
        return;
      case 'reset':
        deliberate = true;
        req.socket.resetAndDestroy();
        return;
      case 'delay':
        if (await this.pause(fault.ms, res)) await this.answer(res, reply);
        return;
      case 'slow-stream':
        if (reply.kind === 'sse') return this.answer(res, reply, fault.delayMs);
        if (await this.pause(fault.delayMs, res)) await this.answer(res, reply);
        return;
      case 'malformed-stream':
        if (reply.kind === 'json') {
          const text = JSON.stringify(reply.body);
          res.writeHead(reply.status, { 'content-type': 'application/json' });
          res.end(text.slice(0, Math.ceil(text.length / 2)));
          return;
        }
        return this.answer(res, reply, 0, (i) => (i === Math.floor(reply.chunks.length / 2) ? [GARBAGE] : []));
      case 'cut-stream': {
        if (reply.kind === 'json') {
          const text = JSON.stringify(reply.body);
          res.writeHead(reply.status, {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(text),
          });
          await write(res, text.slice(0, Math.floor(text.length / 2)));
          destroy();
          return;
        }
        startEventStream(res);
        for (const chunk of reply.chunks.slice(0, fault.afterChunks)) {
          await write(res, `data: ${JSON.stringify(chunk)}\n\n`);
        }
        destroy();
        return;
      }
      case 'echo-credential':
        return this.echoCredential(req, res, reply, fault.status ?? 400);
      case 'stream-error': {
        if (reply.kind === 'json') return this.answer(res, reply);
        startEventStream(res);
        for (const chunk of reply.chunks.slice(0, 2)) writeEvent(res, chunk);
        writeEvent(res, errorResponseFor(500));
        res.end();
        return;
      }
    }
  }

  private echoCredential(req: IncomingMessage, res: ServerResponse, reply: MockReply, status: number): void {
    const h = req.headers;
    const auth = typeof h.authorization === 'string' ? h.authorization.replace(/^Bearer\s+/i, '') : undefined;
    const credential = auth ?? String(h['x-api-key'] ?? h['api-key'] ?? 'no-credential-sent');
    const b64 = Buffer.from(credential).toString('base64');
    const message = `Incorrect API key provided: ${credential} (base64 ${b64}, url ${encodeURIComponent(credential)}).`;
    const anthropic = (req.url ?? '').split('?')[0].endsWith('/messages');
    const body = anthropic
      ? { type: 'error', error: { type: credential, message, param: credential, code: credential } }
      : { error: { message, type: credential, param: credential, code: credential } };
    if (reply.kind === 'json') {
      sendJson(res, status, body);
      return;
    }
    startEventStream(res);
    res.write(`: debug auth=Bearer ${credential}\n\n`);
    for (const chunk of reply.chunks.slice(0, 2)) writeEvent(res, chunk);
    res.write(`: key ${b64}\n`);
    res.write(`${anthropic ? 'event: error\n' : ''}data: ${JSON.stringify(body)}\n\n`);
    res.end();
  }

  /** Sends a reply; streams may be slowed and have raw extra events injected before chunk i. */
  private async answer(
    res: ServerResponse,
    reply: MockReply,
    delayMs = 0,
    inject?: (i: number) => string[],
  ): Promise<void> {
    if (reply.kind === 'json') return sendJson(res, reply.status, reply.body);
    startEventStream(res);
    for (const [i, chunk] of reply.chunks.entries()) {
      for (const extra of inject?.(i) ?? []) res.write(`data: ${extra}\n\n`);
      writeEvent(res, chunk, reply.named);
      if (delayMs > 0 && !(await this.pause(delayMs, res))) return;
      if (res.destroyed) return;
    }
    // As OpenAI streams them: Responses events carry their names and end without [DONE].
    res.end(reply.named ? undefined : DONE_EVENT);
  }

  /** Waits `ms`; false if the client went away (or the server closed) meanwhile. */
  private pause(ms: number, res: ServerResponse): Promise<boolean> {
    if (res.destroyed) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const onClose = (): void => {
        clearTimeout(timer);
        this.timers.delete(timer);
        resolve(false);
      };
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        res.off('close', onClose);
        resolve(true);
      }, ms);
      this.timers.add(timer);
      res.once('close', onClose);
    });
  }
}

function write(res: ServerResponse, text: string): Promise<void> {
  return new Promise((resolve) => res.write(text, () => resolve()));
}

export async function startFakeUpstream(opts: FakeUpstreamOptions = {}): Promise<FakeUpstream> {
  return new FakeUpstream(opts).listen();
}

if (require.main === module) {
  const fault = process.env.FAULT ? (JSON.parse(process.env.FAULT) as Fault) : undefined;
  startFakeUpstream({
    host: process.env.HOST,
    port: Number(process.env.PORT ?? 0),
    apiKey: process.env.UPSTREAM_API_KEY,
    logLimit: 0,
  })
    .then((up) => {
      if (fault) up.setFault(fault);
      process.stdout.write(`${up.url}\n`);
      const stop = (): void => void up.close().then(() => process.exit(0));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    })
    .catch((err: unknown) => {
      process.stderr.write(`fake upstream failed to start: ${String(err)}\n`);
      process.exit(1);
    });
}
