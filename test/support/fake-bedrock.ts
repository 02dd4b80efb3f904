/**
 * A fake Amazon Bedrock runtime for adapter and end-to-end tests. The AWS SDK's Bedrock client
 * speaks HTTP/2, so this serves TLS with ALPN (HTTP/1.1 allowed too) using the test-only
 * certificate in test/support/tls. Routes, as the SDK calls them:
 *   POST /model/{modelId}/converse                     Converse JSON
 *   POST /model/{modelId}/converse-stream              AWS event-stream frames (messageStart … metadata)
 *   POST /model/{modelId}/invoke                       Claude (Anthropic body), Titan and Cohere embeddings
 *   POST /model/{modelId}/invoke-with-response-stream  Claude events in `chunk` frames
 * Every request must carry a SigV4 `authorization` header for the `bedrock` service; errors carry
 * Bedrock's `x-amzn-errortype`, as the SDK reads them. Fault modes and per-route counters.
 *
 * In jest: `const fake = await startFakeBedrock()`, then give the adapter `endpoint: fake.url`,
 * `requestHandler: fakeBedrockRequestHandler()` and any credentials.
 * Standalone (a spawned gateway): `tsx test/support/fake-bedrock.ts` (optional PORT, FAULT as a
 * JSON BedrockFault) prints its URL; the gateway needs
 * NODE_EXTRA_CA_CERTS=test/support/tls/test-only-localhost.crt, AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY (any values) and the provider's `endpoint` set to that URL.
 */
import { readFileSync } from 'node:fs';
import { createSecureServer, type Http2SecureServer, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import path from 'node:path';
import { EventStreamCodec } from '@smithy/eventstream-codec';
import { NodeHttp2Handler } from '@smithy/node-http-handler';
import type { MessagesRequest } from '../../app/translate/types';
import { fakeClaudeEvents, fakeClaudeMessage } from './fake-claude';
import { fakeConverse, fakeConverseEvents, tokens, unitVector, type ConverseBody } from './fake-converse';

export const TEST_CA_PATH = path.join(__dirname, 'tls', 'test-only-localhost.crt');
const KEY_PATH = path.join(__dirname, 'tls', 'test-only-localhost.key');

export type BedrockRoute = 'converse' | 'converse-stream' | 'invoke' | 'invoke-with-response-stream';

export type BedrockFault =
  | { kind: 'none' }
  /** 429 ThrottlingException. */
  | { kind: 'throttle' }
  /** 400 ValidationException with `message`. */
  | { kind: 'validation'; message?: string }
  /** 429 ModelNotReadyException (Bedrock's status for it). */
  | { kind: 'not-ready' }
  /** 503 ServiceUnavailableException. */
  | { kind: 'unavailable' }
  /** 500 InternalServerException. */
  | { kind: 'server-error' }
  /** 403 AccessDeniedException. */
  | { kind: 'access-denied' }
  /** 408 ModelTimeoutException. */
  | { kind: 'model-timeout' }
  /** Never answer. */
  | { kind: 'hang' }
  /** Streams: two events, then an exception frame (e.g. `throttlingException`, `modelStreamErrorException`). */
  | { kind: 'stream-exception'; exception: string };

export interface BedrockRecordedRequest {
  route: BedrockRoute;
  modelId: string;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
  fault: BedrockFault;
}

const FAULT_STATUS: Record<string, [number, string]> = {
  throttle: [429, 'ThrottlingException'],
  validation: [400, 'ValidationException'],
  'not-ready': [429, 'ModelNotReadyException'],
  unavailable: [503, 'ServiceUnavailableException'],
  'server-error': [500, 'InternalServerException'],
  'access-denied': [403, 'AccessDeniedException'],
  'model-timeout': [408, 'ModelTimeoutException'],
};

/** What Bedrock's Claude accepts in an InvokeModel body; anything else is an "extraneous key". */
const CLAUDE_KEYS = new Set([
  'anthropic_version', 'anthropic_beta', 'max_tokens', 'system', 'messages', 'temperature', 'top_p', 'top_k', 'tools',
  'tool_choice', 'stop_sequences', 'thinking',
]);

const codec = new EventStreamCodec(
  (bytes) => Buffer.from(bytes).toString('utf8'),
  (text) => Buffer.from(text, 'utf8'),
);

function frame(eventType: string, payload: unknown, messageType: 'event' | 'exception' = 'event'): Uint8Array {
  const typeHeader = messageType === 'event' ? ':event-type' : ':exception-type';
  return codec.encode({
    headers: {
      ':message-type': { type: 'string', value: messageType },
      [typeHeader]: { type: 'string', value: eventType },
      ':content-type': { type: 'string', value: 'application/json' },
    },
    body: Buffer.from(JSON.stringify(payload), 'utf8'),
  });
}

export class FakeBedrock {
  readonly requests: BedrockRecordedRequest[] = [];
  readonly counts: Record<BedrockRoute, number> = { converse: 0, 'converse-stream': 0, invoke: 0, 'invoke-with-response-stream': 0 };
  private queue: BedrockFault[] = [];
  private sticky: BedrockFault | undefined;
  private readonly server: Http2SecureServer;
  private readonly sockets = new Set<Socket>();
  private port = 0;

  constructor() {
    this.server = createSecureServer(
      { key: readFileSync(KEY_PATH), cert: readFileSync(TEST_CA_PATH), allowHTTP1: true },
      (req, res) => void this.handle(req, res),
    );
    this.server.on('secureConnection', (s: Socket) => {
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

  /** The endpoint for the SDK client (`https://localhost:PORT`, matching the certificate). */
  get url(): string {
    return `https://localhost:${this.port}`;
  }

  get calls(): number {
    return this.requests.length;
  }

  queueFaults(faults: BedrockFault[]): void {
    this.queue.push(...faults);
  }

  setFault(fault: BedrockFault | undefined): void {
    this.sticky = fault;
  }

  reset(): void {
    this.requests.length = 0;
    this.queue = [];
    this.sticky = undefined;
    for (const k of Object.keys(this.counts) as BedrockRoute[]) this.counts[k] = 0;
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((r) => this.server.close(() => r()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  private error(res: Http2ServerResponse, status: number, name: string, message: string): void {
    res.writeHead(status, {
      'content-type': 'application/json',
      'x-amzn-errortype': `${name}:http://internal.amazon.com/coral/com.amazon.bedrock/`,
      'x-amzn-requestid': 'fake-request-error',
    });
    res.end(JSON.stringify({ message }));
  }

  private async handle(req: Http2ServerRequest, res: Http2ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const m = /^\/model\/([^/]+)\/(converse|converse-stream|invoke|invoke-with-response-stream)$/.exec((req.url ?? '').split('?')[0]);
    if (req.method !== 'POST' || !m) return this.error(res, 404, 'UnknownOperationException', 'Unknown operation');
    const route = m[2] as BedrockRoute;
    const modelId = decodeURIComponent(m[1]);
    const auth = String(req.headers.authorization ?? '');
    if (!auth.startsWith('AWS4-HMAC-SHA256 ') || !/\/bedrock\/aws4_request/.test(auth)) {
      return this.error(res, 403, 'UnrecognizedClientException', 'The security token included in the request is invalid.');
    }
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
    } catch {
      return this.error(res, 400, 'ValidationException', 'Malformed input request, please reformat your input and try again.');
    }
    const fault = this.queue.shift() ?? this.sticky ?? { kind: 'none' };
    this.requests.push({ route, modelId, headers: req.headers, body, fault });
    this.counts[route]++;

    if (fault.kind === 'hang') return;
    const status = FAULT_STATUS[fault.kind];
    if (status) {
      const message = fault.kind === 'validation' ? (fault.message ?? 'The provided request is not valid') : `fake ${status[1]}`;
      return this.error(res, status[0], status[1], message);
    }

    switch (route) {
      case 'converse':
        return this.json(res, fakeConverse(modelId, body as ConverseBody));
      case 'converse-stream':
        return this.stream(res, fakeConverseEvents(modelId, body as ConverseBody).map(([t, p]) => frame(t, p)), fault);
      case 'invoke':
        return this.invoke(res, modelId, body);
      case 'invoke-with-response-stream':
        return this.invokeStream(res, modelId, body, fault);
    }
  }

  private json(res: Http2ServerResponse, body: unknown, headers: Record<string, string> = {}): void {
    res.writeHead(200, { 'content-type': 'application/json', 'x-amzn-requestid': 'fake-request-0001', ...headers });
    res.end(JSON.stringify(body));
  }

  private stream(res: Http2ServerResponse, frames: Uint8Array[], fault: BedrockFault): void {
    res.writeHead(200, { 'content-type': 'application/vnd.amazon.eventstream', 'x-amzn-requestid': 'fake-request-0002' });
    const sent = fault.kind === 'stream-exception' ? [...frames.slice(0, 2), frame(fault.exception, { message: 'fake stream exception' }, 'exception')] : frames;
    for (const f of sent) res.write(Buffer.from(f));
    res.end();
  }

  private claudeBody(modelId: string, body: Record<string, unknown>): MessagesRequest | string {
    if (body.anthropic_version !== 'bedrock-2023-05-31') return 'anthropic_version: must be bedrock-2023-05-31';
    const extra = Object.keys(body).find((k) => !CLAUDE_KEYS.has(k));
    if (extra) return `extraneous key [${extra}] is not permitted`;
    return { ...(body as unknown as MessagesRequest), model: modelId };
  }

  private invoke(res: Http2ServerResponse, modelId: string, body: Record<string, unknown>): void {
    if (modelId.includes('anthropic.claude')) {
      const claude = this.claudeBody(modelId, body);
      if (typeof claude === 'string') return this.error(res, 400, 'ValidationException', claude);
      const msg = fakeClaudeMessage(claude);
      return this.json(res, { ...msg, id: msg.id.replace('msg_', 'msg_bdrk_') }, {
        'x-amzn-bedrock-input-token-count': String(msg.usage.input_tokens),
        'x-amzn-bedrock-output-token-count': String(msg.usage.output_tokens),
      });
    }
    if (modelId.includes('amazon.titan-embed-text')) {
      if (typeof body.inputText !== 'string') return this.error(res, 400, 'ValidationException', 'inputText is required');
      const dims = typeof body.dimensions === 'number' ? body.dimensions : 1024;
      const count = tokens(body.inputText);
      return this.json(res, { embedding: unitVector(body.inputText, dims), embeddingsByType: {}, inputTextTokenCount: count }, {
        'x-amzn-bedrock-input-token-count': String(count),
      });
    }
    if (modelId.includes('cohere.embed')) {
      const texts = body.texts;
      if (!Array.isArray(texts) || texts.length > 96 || typeof body.input_type !== 'string') {
        return this.error(res, 400, 'ValidationException', 'texts (at most 96) and input_type are required');
      }
      const vectors = (texts as string[]).map((t) => unitVector(`${body.input_type}:${t}`, 1024));
      const count = (texts as string[]).reduce((s, t) => s + tokens(t), 0);
      const byType = Array.isArray(body.embedding_types);
      return this.json(
        res,
        { id: 'fake-cohere', texts, embeddings: byType ? { float: vectors } : vectors, response_type: byType ? 'embeddings_by_type' : 'embeddings_floats' },
        { 'x-amzn-bedrock-input-token-count': String(count) },
      );
    }
    return this.error(res, 400, 'ValidationException', `The fake does not know model ${modelId}`);
  }

  private invokeStream(res: Http2ServerResponse, modelId: string, body: Record<string, unknown>, fault: BedrockFault): void {
    const claude = modelId.includes('anthropic.claude') ? this.claudeBody(modelId, body) : 'streaming needs a Claude model';
    if (typeof claude === 'string') return this.error(res, 400, 'ValidationException', claude);
    const events = fakeClaudeEvents(claude).map((e) => {
      const payload: Record<string, unknown> = { ...e };
      if (e.type === 'message_start') payload.message = { ...e.message, id: e.message.id.replace('msg_', 'msg_bdrk_') };
      if (e.type === 'message_stop') {
        payload['amazon-bedrock-invocationMetrics'] = { inputTokenCount: 10, outputTokenCount: 5, invocationLatency: 50, firstByteLatency: 20 };
      }
      return frame('chunk', { bytes: Buffer.from(JSON.stringify(payload)).toString('base64') });
    });
    return this.stream(res, events, fault);
  }
}

export async function startFakeBedrock(): Promise<FakeBedrock> {
  return new FakeBedrock().listen();
}

/** The SDK's HTTP/2 handler trusting the test certificate, for clients inside a jest process. */
export function fakeBedrockRequestHandler(requestTimeout = 5000): NodeHttp2Handler {
  return new NodeHttp2Handler({
    requestTimeout,
    disableConcurrentStreams: true,
    nodeHttp2ConnectOptions: { ca: readFileSync(TEST_CA_PATH) },
  });
}

if (require.main === module) {
  new FakeBedrock()
    .listen(Number(process.env.PORT ?? 0))
    .then((f) => {
      if (process.env.FAULT) f.setFault(JSON.parse(process.env.FAULT) as BedrockFault);
      process.stdout.write(`${f.url}\n`);
      const stop = (): void => void f.close().then(() => process.exit(0));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    })
    .catch((err: unknown) => {
      process.stderr.write(`fake bedrock failed to start: ${String(err)}\n`);
      process.exit(1);
    });
}
