import type { FastifyError, FastifyInstance } from 'fastify';
import { ApiError, InternalError, InvalidRequestError, NotFoundError, PayloadTooLargeError, ServiceUnavailableError } from '../errors';
import { StoreUnavailableError } from '../stores/errors';

/** Maps Fastify's own errors (body parsing, limits) to the API's error vocabulary. */
function fromFastify(err: FastifyError, bodyLimit: number): ApiError | undefined {
  if (err instanceof StoreUnavailableError) {
    // RATE_LIMIT_FAIL_OPEN=false: refuse rather than serve unmetered.
    return new ServiceUnavailableError('Rate limiting is temporarily unavailable. Please retry.', 'limiter_unavailable');
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

/** The one place errors become answers. 5xx bodies never carry internals. */
export function errorHandler(app: FastifyInstance, bodyLimit: number) {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    let apiError = err instanceof ApiError ? err : fromFastify(err, bodyLimit);
    if (!apiError) {
      request.log.error({ err, requestId: request.id }, 'unhandled error');
      apiError = new InternalError();
    }
    if (reply.sent || reply.raw.headersSent) return;
    reply.code(apiError.status).headers(apiError.headers).type('application/json').send(apiError.toBody());
  });

  app.setNotFoundHandler((request, reply) => {
    const e = new NotFoundError(`Unknown request URL: ${request.method} ${request.url.split('?')[0]}.`, 'unknown_url');
    reply.code(404).type('application/json').send(e.toBody());
  });
}
