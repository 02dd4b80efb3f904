/**
 * The error vocabulary of the API: OpenAI's `ErrorResponse`
 * `{"error": {"message", "type", "param", "code"}}`, every field present. One class per status;
 * the root error handler turns anything else into a 500 that reveals nothing.
 */
export interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string,
    readonly code: string | null = null,
    readonly param: string | null = null,
    /** Extra response headers (retry-after, rate-limit state). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = new.target.name;
  }

  toBody(): ErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export class InvalidRequestError extends ApiError {
  constructor(message: string, param: string | null = null, code: string | null = null) {
    super(400, message, 'invalid_request_error', code, param);
  }
}

export class AuthenticationError extends ApiError {
  constructor(message = 'Incorrect API key provided.') {
    super(401, message, 'invalid_request_error', 'invalid_api_key');
  }
}

export class PermissionDeniedError extends ApiError {
  constructor(message: string, code: string, param: string | null = null) {
    super(403, message, 'invalid_request_error', code, param);
  }
}

export class NotFoundError extends ApiError {
  constructor(message: string, code: string | null = 'not_found') {
    super(404, message, 'invalid_request_error', code);
  }
}

export class PayloadTooLargeError extends ApiError {
  constructor(limit: number) {
    super(413, `Request body is larger than the limit of ${limit} bytes.`, 'invalid_request_error', 'request_too_large');
  }
}

export class RateLimitError extends ApiError {
  constructor(
    message: string,
    headers: Record<string, string>,
    /** Which limit refused: 'requests' or 'tokens' (metrics and the access log read it). */
    readonly refusedBy: 'requests' | 'tokens' | 'budget' = 'requests',
  ) {
    super(429, message, 'rate_limit_error', 'rate_limit_exceeded', null, headers);
  }
}

export class QuotaExceededError extends ApiError {
  constructor(
    message: string,
    headers: Record<string, string>,
    readonly refusedBy: 'requests' | 'tokens' | 'budget' = 'budget',
  ) {
    super(429, message, 'insufficient_quota', 'insufficient_quota', null, headers);
  }
}

export class UpstreamError extends ApiError {
  constructor(
    message = 'The upstream model server failed to answer.',
    /** The provider's own status when it answered (5xx); absent when it could not be reached. */
    readonly upstreamStatus?: number,
  ) {
    super(502, message, 'api_error', 'upstream_error');
  }
}

export class UpstreamTimeoutError extends ApiError {
  constructor(message = 'The upstream model server did not answer in time.') {
    super(504, message, 'api_error', 'upstream_timeout');
  }
}

export class ServiceUnavailableError extends ApiError {
  constructor(message: string, code: string | null = 'service_unavailable') {
    super(503, message, 'api_error', code, null, { 'retry-after': '1' });
  }
}

export class InternalError extends ApiError {
  constructor() {
    super(500, 'The server had an error while processing your request.', 'api_error', 'internal_error');
  }
}

/**
 * An upstream 4xx answered verbatim (status and body), as a client talking to OpenAI directly would
 * see it. The body is normalised to ErrorResponse when the upstream's is not one.
 */
export class UpstreamClientError extends ApiError {
  constructor(status: number, readonly upstreamBody: ErrorBody, headers: Record<string, string> = {}) {
    const e = upstreamBody.error;
    super(status, e.message, e.type, e.code, e.param, headers);
  }

  override toBody(): ErrorBody {
    return this.upstreamBody;
  }
}

/** Parses an upstream error body into ErrorResponse, filling what is missing. */
export function normaliseErrorBody(status: number, text: string): ErrorBody {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const e = (parsed as { error?: Record<string, unknown> } | undefined)?.error;
  const str = (v: unknown) => (typeof v === 'string' ? v : v == null ? null : String(v));
  if (e && typeof e === 'object') {
    return {
      error: {
        message: str(e.message) ?? `Upstream answered ${status}.`,
        type: str(e.type) ?? (status === 429 ? 'rate_limit_error' : 'invalid_request_error'),
        param: str(e.param),
        code: str(e.code),
      },
    };
  }
  return {
    error: {
      message: `Upstream answered ${status}.`,
      type: status === 429 ? 'rate_limit_error' : 'invalid_request_error',
      param: null,
      code: null,
    },
  };
}
