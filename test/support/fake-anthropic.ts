/**
 * A fake Anthropic API on 127.0.0.1 for adapter and end-to-end tests: POST /v1/messages (streamed
 * or not, text or tool_use, answers from fake-claude.ts) and GET /v1/models, checking `x-api-key`
 * (or `Authorization: Bearer`, as the current SDK sends it) and `anthropic-version` as Anthropic does, answering errors in Anthropic's shape
 * (`{"type":"error","error":{"type","message"}}`), with fault modes and counters.
 *
 * Standalone (a spawned gateway): `tsx test/support/fake-anthropic.ts` with optional PORT, HOST,
 * ANTHROPIC_API_KEY (the key it requires) and FAULT (a JSON AnthropicFault); it prints its base URL.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { MessagesRequest, MsgStreamEvent } from '../../app/translate/types';
import { fakeClaudeEvents, fakeClaudeMessage } from './fake-claude';

export type AnthropicFault =
  | { kind: 'none' }
  /** Answer `status` with an Anthropic error of `type` (e.g. 429 rate_limit_error, 529 overloaded_error). */
  | { kind: 'status'; status: number; type?: string; message?: string; retryAfter?: string }
  /** Never answer. */
  | { kind: 'hang' }
  /** A stream that sends an `error` event (overloaded_error) after two events. */
  | { kind: 'stream-error' }
  /** A stream that stops after `afterEvents` events, without message_stop. */
  | { kind: 'cut-stream'; afterEvents: number };

export interface AnthropicRecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: unknown;
  fault: AnthropicFault;
}

const ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  529: 'overloaded_error',
};

export function anthropicError(type: string, message: string): unknown {
  return { type: 'error', error: { type, message } };
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'request-id': 'req_fake_0001', ...headers });
  res.end(text);
}

function sse(e: MsgStreamEvent): string {
  return `event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`;
}

export class FakeAnthropic {
  readonly requests: AnthropicRecordedRequest[] = [];
  private queue: AnthropicFault[] = [];
  private sticky: AnthropicFault | undefined;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private port = 0;

  constructor(private apiKey: string | undefined = 'sk-ant-test-key') {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  async listen(port = 0, host = '127.0.0.1'): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve());
    });
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  /** Base URL without a path (the adapter adds /v1/messages). */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get calls(): number {
    return this.requests.length;
  }

  queueFaults(faults: AnthropicFault[]): void {
    this.queue.push(...faults);
  }

  setFault(fault: AnthropicFault | undefined): void {
    this.sticky = fault;
  }

  reset(): void {
    this.requests.length = 0;
    this.queue = [];
    this.sticky = undefined;
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((r) => this.server.close(() => r()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    let body: unknown;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch {
      return send(res, 400, anthropicError('invalid_request_error', 'messages: body is not valid JSON'));
    }
    const fault = this.queue.shift() ?? this.sticky ?? { kind: 'none' };
    const path = (req.url ?? '/').split('?')[0];
    this.requests.push({ method: req.method ?? 'GET', path, headers: req.headers, body, fault });

    // Anthropic takes the key as x-api-key or, as its current SDK sends it, a bearer token.
    const given = req.headers['x-api-key'] ?? req.headers.authorization?.replace(/^Bearer /, '');
    if (this.apiKey !== undefined && given !== this.apiKey) {
      return send(res, 401, anthropicError('authentication_error', 'invalid x-api-key'));
    }
    if (req.method === 'GET' && path === '/v1/models') {
      return send(res, 200, {
        data: [{ type: 'model', id: 'claude-sonnet-5-5', display_name: 'Claude Sonnet 5.5', created_at: '2025-09-29T00:00:00Z' }],
        has_more: false,
        first_id: 'claude-sonnet-5-5',
        last_id: 'claude-sonnet-5-5',
      });
    }
    if (req.method !== 'POST' || path !== '/v1/messages') {
      return send(res, 404, anthropicError('not_found_error', `Not found: ${req.method} ${path}`));
    }
    if (!req.headers['anthropic-version']) {
      return send(res, 400, anthropicError('invalid_request_error', 'anthropic-version: header is required'));
    }
    const m = body as MessagesRequest;
    if (!m || typeof m.model !== 'string' || !Array.isArray(m.messages) || typeof m.max_tokens !== 'number') {
      return send(res, 400, anthropicError('invalid_request_error', 'model, messages and max_tokens are required'));
    }

    switch (fault.kind) {
      case 'status': {
        const headers: Record<string, string> = fault.retryAfter ? { 'retry-after': fault.retryAfter } : {};
        const type = fault.type ?? ERROR_TYPES[fault.status] ?? 'api_error';
        return send(res, fault.status, anthropicError(type, fault.message ?? `fake ${type}`), headers);
      }
      case 'hang':
        return;
      default:
        break;
    }
    if (!m.stream) return send(res, 200, fakeClaudeMessage(m));

    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'request-id': 'req_fake_0002' });
    let events = fakeClaudeEvents(m);
    if (fault.kind === 'cut-stream') events = events.slice(0, fault.afterEvents);
    if (fault.kind === 'stream-error') {
      events = [...events.slice(0, 2), { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }];
    }
    const text = events.map(sse).join('');
    // A cut stream: the events are flushed, then the connection dies without message_stop.
    if (fault.kind === 'cut-stream') res.write(text, () => res.socket?.destroy());
    else res.end(text);
  }
}

export async function startFakeAnthropic(apiKey?: string): Promise<FakeAnthropic> {
  return new FakeAnthropic(apiKey).listen();
}

if (require.main === module) {
  const fake = new FakeAnthropic(process.env.ANTHROPIC_API_KEY ?? 'sk-ant-test-key');
  fake
    .listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1')
    .then((f) => {
      if (process.env.FAULT) f.setFault(JSON.parse(process.env.FAULT) as AnthropicFault);
      process.stdout.write(`${f.url}\n`);
      const stop = (): void => void f.close().then(() => process.exit(0));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    })
    .catch((err: unknown) => {
      process.stderr.write(`fake anthropic failed to start: ${String(err)}\n`);
      process.exit(1);
    });
}
