import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { ApiError, InternalError, InvalidRequestError, NotFoundError, PayloadTooLargeError, ServiceUnavailableError } from '../errors';
import type { Scrubber } from '../security/scrub';
import { isStoreOutage, StoreUnavailableError } from '../stores/errors';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * The error shape of a route's answers: 'anthropic' on the /v1/messages surface. Read from the
     * route's config, so errors raised before the handler runs (auth, body) get it too.
     */
    errorShape?: 'openai' | 'anthropic';
  }
}

/** The body a caller sees for `e`, rebuilt from the allow-list whatever its origin. */
export function errorAnswer(scrubber: Scrubber, e: ApiError, shape: 'openai' | 'anthropic' = 'openai') {
  const raw = e.toBody();
  return shape === 'anthropic' ? scrubber.anthropicErrorBody(e.status, raw) : scrubber.errorBody(e.status, raw);
}

/** Maps Fastify's own errors (body parsing, limits) to the API's error vocabulary. */
function fromFastify(err: FastifyError, bodyLimit: number): ApiError | undefined {
  if (err instanceof StoreUnavailableError) {
    // RATE_LIMIT_FAIL_OPEN=false: refuse rather than serve unmetered.
    return new ServiceUnavailableError('Rate limiting is temporarily unavailable. Please retry.', 'limiter_unavailable');
  }
  if (err.statusCode === undefined && isStoreOutage(err)) {
    // Postgres down: admin routes, and budget checks that must read the month's usage.
    return new ServiceUnavailableError('A data store is temporarily unavailable. Please retry.', 'store_unavailable');
  }
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new PayloadTooLargeError(bodyLimit);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new InvalidRequestError('The request body is empty; send a JSON object.');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new InvalidRequestError('Send the request body as JSON (Content-Type: application/json).');
    default:
  }
  if (err instanceof SyntaxError || err.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
    return new InvalidRequestError(
      'We could not parse the JSON body of your request. (HINT: This likely means you aren\'t using your HTTP library correctly.)',
    );
  }
  // Any other client error Fastify raises (bad content length, aborted body…) stays a 4xx.
  const status = err.statusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    return new ApiError(status, 'The request could not be read.', 'invalid_request_error');
  }
  return undefined;
}

/** Reads and drops what is left of a request body, up to `maxBytes` or `maxMs`, whichever comes first. */
function discardRest(req: IncomingMessage, maxBytes: number, maxMs: number): Promise<void> {
  if (req.complete || req.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    let seen = 0;
    const done = () => {
      clearTimeout(timer);
      req.off('data', onData).off('end', done).off('close', done).off('error', done);
      resolve();
    };
    const onData = (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > maxBytes) done();
    };
    const timer = setTimeout(done, maxMs);
    req.on('data', onData).once('end', done).once('close', done).once('error', done);
    req.resume();
  });
}

/**
 * The one place errors become answers. 5xx bodies never carry internals, and no body carries a
 * secret: each is rebuilt by the scrubber (an upstream's 4xx included).
 */
export function errorHandler(app: FastifyInstance, opts: { bodyLimit: number; scrubber: Scrubber }) {
  const { bodyLimit, scrubber } = opts;
  app.setErrorHandler(async (err: FastifyError, request, reply) => {
    let apiError = err instanceof ApiError ? err : fromFastify(err, bodyLimit);
    // The caller hung up and its upstream call was aborted on purpose: nothing broke, no one to answer.
    if (!apiError && err.name === 'AbortError' && reply.raw.destroyed) return;
    // Not logged here: the access log line of this request carries the cause (one line per request).
    apiError ??= new InternalError();
    // Fastify closes the connection after a refused body. Closing with the caller's bytes still
    // unread resets it, which can destroy this answer before the caller reads it: drop the rest first.
    if (apiError instanceof PayloadTooLargeError) await discardRest(request.raw, 64 * bodyLimit, 10_000);
    if (reply.sent || reply.raw.headersSent) return;
    const body = errorAnswer(scrubber, apiError, request.routeOptions?.config?.errorShape);
    reply.code(apiError.status).headers(apiError.headers).type('application/json').send(body);
  });

  app.setNotFoundHandler((request, reply) => {
    const e = new NotFoundError(`Unknown request URL: ${request.method} ${request.url.split('?')[0]}.`, 'unknown_url');
    reply.code(404).type('application/json').send(errorAnswer(scrubber, e));
  });
}

/**
 * Node's HTTP parser refused the request before Fastify saw it (broken framing, invalid header
 * bytes, headers over the size limit): answer in the API's vocabulary, then close, as Node does.
 */
export function clientErrorHandler(err: Error & { code?: string }, socket: Socket) {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, message, code] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'The request headers are too large.', 'headers_too_large']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'The request did not arrive in time.', null]
        : [400, 'The request is not valid HTTP.', null];
  const body = JSON.stringify(new ApiError(status, message, 'invalid_request_error', code).toBody());
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
}

/** Router errors Fastify would otherwise answer in its own format (a URL that does not decode). */
export function frameworkErrors(err: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  const e =
    err.code === 'FST_ERR_BAD_URL'
      ? new InvalidRequestError('The request URL is not valid (malformed percent-encoding).')
      : err.code === 'FST_ERR_MAX_PARAM_LENGTH'
        ? new ApiError(414, 'The request URL is too long.', 'invalid_request_error')
        : new InternalError();
  if (e.status >= 500) request.log.error({ err, requestId: request.id }, 'unhandled error');
  reply.code(e.status).header('x-request-id', request.id).type('application/json').send(e.toBody());
}
