/**
 * HTTP/1.1 over a plain socket, for requests no well-behaved client would send (invalid bytes in
 * headers, lying framing, bodies past every limit). Writes exactly the bytes given, reads one answer.
 */
import { connect } from 'node:net';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** The body parsed as JSON, or undefined. */
  json: unknown;
  /** Milliseconds from connect to the complete answer. */
  ms: number;
}

export interface RawRequest {
  method?: string;
  path: string;
  /** Header lines as sent, in order; values are written as latin1 bytes (so any byte can be sent). */
  headers?: Array<[string, string]>;
  body?: string | Buffer;
  /** Adds `content-length` for the body unless a header already frames it. @default true */
  contentLength?: boolean;
}

/**
 * Builds the request bytes: request line, headers (plus host), body. Connections stay keep-alive
 * like real clients' (a server that closes with request bytes unread resets the connection, which
 * can destroy an answer already sent); the reader stops at the end of the first answer.
 */
export function encodeRequest(req: RawRequest): Buffer {
  const body = typeof req.body === 'string' ? Buffer.from(req.body, 'utf8') : (req.body ?? Buffer.alloc(0));
  const headers = [...(req.headers ?? [])];
  const has = (name: string) => headers.some(([k]) => k.toLowerCase() === name);
  if (!has('host')) headers.unshift(['host', '127.0.0.1']);
  if (req.contentLength !== false && !has('content-length') && !has('transfer-encoding') && req.body !== undefined) {
    headers.push(['content-length', String(body.length)]);
  }
  const head = `${req.method ?? 'POST'} ${req.path} HTTP/1.1\r\n${headers.map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

function decodeChunked(buf: Buffer): Buffer | undefined {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = buf.indexOf('\r\n', at);
    if (eol < 0) return undefined;
    const size = parseInt(buf.subarray(at, eol).toString('latin1'), 16);
    if (Number.isNaN(size)) return undefined;
    if (size === 0) return Buffer.concat(parts);
    if (buf.length < eol + 2 + size + 2) return undefined;
    parts.push(buf.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
}

/** The first complete answer in `buf`, or undefined while more bytes are needed. */
function parseResponse(buf: Buffer, closed: boolean): Omit<RawResponse, 'ms'> | undefined {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [statusLine, ...lines] = buf.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(statusLine.split(' ')[1]);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  const rest = buf.subarray(end + 4);
  let body: Buffer | undefined;
  if (headers['transfer-encoding']?.includes('chunked')) body = decodeChunked(rest);
  else if (headers['content-length'] !== undefined) {
    const n = Number(headers['content-length']);
    if (rest.length >= n) body = rest.subarray(0, n);
  } else if (closed) body = rest;
  if (body === undefined) return undefined;
  const text = body.toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status, headers, body: text, json };
}

/**
 * Sends `req` on a new connection and resolves with the answer. The server may answer (and close)
 * before the whole body is written, as it does for bodies over the limit: that is an answer too.
 * Rejects when no complete answer arrives within `timeoutMs` or the connection closes without one.
 */
export function rawRequest(port: number, req: RawRequest | Buffer, timeoutMs = 10_000): Promise<RawResponse> {
  const bytes = Buffer.isBuffer(req) ? req : encodeRequest(req);
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = Buffer.alloc(0);
    let settled = false;
    const finish = (err?: Error, res?: Omit<RawResponse, 'ms'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (res) resolve({ ...res, ms: Date.now() - started });
      else reject(err);
    };
    const timer = setTimeout(
      () => finish(new Error(`no complete answer within ${timeoutMs} ms; got: ${received.toString('latin1').slice(0, 300)}`)),
      timeoutMs,
    );
    socket.on('connect', () => {
      // Large bodies go in slices so an early answer is read while the rest is still being written.
      const slice = 64 * 1024;
      let at = 0;
      const pump = () => {
        while (at < bytes.length && !socket.destroyed) {
          const ok = socket.write(bytes.subarray(at, at + slice));
          at += slice;
          if (!ok) return void socket.once('drain', pump);
        }
      };
      pump();
    });
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const res = parseResponse(received, false);
      if (res) finish(undefined, res);
    });
    // Writes into a socket the server has closed fail with EPIPE/ECONNRESET; what it said still counts.
    socket.on('error', () => undefined);
    socket.on('close', () => {
      const res = parseResponse(received, true);
      finish(res ? undefined : new Error(`connection closed without an answer (${received.length} bytes)`), res);
    });
  });
}
