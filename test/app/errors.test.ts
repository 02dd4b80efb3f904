import {
  ApiError,
  AuthenticationError,
  InternalError,
  InvalidRequestError,
  NotFoundError,
  PayloadTooLargeError,
  PermissionDeniedError,
  QuotaExceededError,
  RateLimitError,
  ServiceUnavailableError,
  UpstreamClientError,
  UpstreamError,
  UpstreamTimeoutError,
  normaliseErrorBody,
  type ErrorBody,
} from '../../app/errors';
import { expectSchema } from '../support/openapi';

const RETRY = { 'retry-after': '2' };

describe('error classes', () => {
  it.each<[string, ApiError, number, string, string | null]>([
    ['InvalidRequestError', new InvalidRequestError('bad'), 400, 'invalid_request_error', null],
    ['AuthenticationError', new AuthenticationError(), 401, 'invalid_request_error', 'invalid_api_key'],
    ['PermissionDeniedError', new PermissionDeniedError('no', 'model_not_allowed'), 403, 'invalid_request_error', 'model_not_allowed'],
    ['NotFoundError', new NotFoundError('gone'), 404, 'invalid_request_error', 'not_found'],
    ['PayloadTooLargeError', new PayloadTooLargeError(1024), 413, 'invalid_request_error', 'request_too_large'],
    ['RateLimitError', new RateLimitError('slow down', RETRY), 429, 'rate_limit_error', 'rate_limit_exceeded'],
    ['QuotaExceededError', new QuotaExceededError('spent', RETRY), 429, 'insufficient_quota', 'insufficient_quota'],
    ['UpstreamError', new UpstreamError(), 502, 'api_error', 'upstream_error'],
    ['UpstreamTimeoutError', new UpstreamTimeoutError(), 504, 'api_error', 'upstream_timeout'],
    ['ServiceUnavailableError', new ServiceUnavailableError('wait'), 503, 'api_error', 'service_unavailable'],
    ['InternalError', new InternalError(), 500, 'api_error', 'internal_error'],
  ])('%s is %i %s / %s, a valid ErrorResponse', (name, err, status, type, code) => {
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe(name);
    expect({ status: err.status, type: err.type, code: err.code }).toEqual({ status, type, code });
    const body = err.toBody();
    expect(Object.keys(body)).toEqual(['error']);
    expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
    expect(body.error).toEqual({ message: err.message, type, param: err.param, code });
    expect(err.message.length).toBeGreaterThan(0);
    expectSchema('ErrorResponse', body);
  });

  it('InvalidRequestError carries param and code', () => {
    const err = new InvalidRequestError("Missing required parameter: 'model'.", 'model', 'missing_required_parameter');
    expect(err.toBody()).toEqual({
      error: {
        message: "Missing required parameter: 'model'.",
        type: 'invalid_request_error',
        param: 'model',
        code: 'missing_required_parameter',
      },
    });
  });

  it('PayloadTooLargeError names the limit', () => {
    expect(new PayloadTooLargeError(1_048_576).message).toContain('1048576 bytes');
  });

  it('429s and 503s carry their retry headers; others none', () => {
    expect(new RateLimitError('x', RETRY).headers).toEqual(RETRY);
    expect(new QuotaExceededError('x', RETRY).headers).toEqual(RETRY);
    expect(new ServiceUnavailableError('x').headers).toEqual({ 'retry-after': '1' });
    expect(new UpstreamError().headers).toEqual({});
  });

  it('5xx messages reveal nothing internal', () => {
    for (const err of [new UpstreamError(), new UpstreamTimeoutError(), new InternalError()]) {
      expect(err.message).not.toMatch(/https?:|127\.0\.0\.1|ECONN|stack|at /);
    }
  });
});

describe('UpstreamClientError', () => {
  it("answers with the upstream's status and body verbatim", () => {
    const upstream: ErrorBody = {
      error: { message: "The model 'x' does not exist", type: 'invalid_request_error', param: 'model', code: 'model_not_found' },
    };
    const err = new UpstreamClientError(404, upstream, { 'x-request-id': 'req_1' });
    expect(err.status).toBe(404);
    expect(err.toBody()).toBe(upstream);
    expect(err).toMatchObject({ message: upstream.error.message, type: 'invalid_request_error', code: 'model_not_found', param: 'model' });
    expect(err.headers).toEqual({ 'x-request-id': 'req_1' });
    expect(err).toBeInstanceOf(ApiError);
  });
});

describe('normaliseErrorBody', () => {
  it('keeps a complete upstream error as it is', () => {
    const body = { error: { message: 'nope', type: 'invalid_request_error', param: 'temperature', code: 'invalid_value' } };
    expect(normaliseErrorBody(400, JSON.stringify(body))).toEqual(body);
  });

  it.each([
    ['HTML', '<html><body>Bad Gateway</body></html>'],
    ['empty', ''],
    ['JSON null', 'null'],
    ['a bare string error', '{"error":"bad things"}'],
    ['another shape', '{"detail":"Not Found"}'],
  ])('builds a full body from %s', (_, text) => {
    const body = normaliseErrorBody(404, text);
    expect(body).toEqual({ error: { message: 'Upstream answered 404.', type: 'invalid_request_error', param: null, code: null } });
    expectSchema('ErrorResponse', body);
  });

  it('types an unparseable 429 as a rate limit error', () => {
    expect(normaliseErrorBody(429, 'Too Many Requests').error.type).toBe('rate_limit_error');
  });

  it('fills the fields a partial error leaves out', () => {
    const body = normaliseErrorBody(400, '{"error":{"message":"bad input"}}');
    expect(body).toEqual({ error: { message: 'bad input', type: 'invalid_request_error', param: null, code: null } });
    expectSchema('ErrorResponse', body);
    expect(normaliseErrorBody(429, '{"error":{"code":"rate_limit_exceeded"}}')).toEqual({
      error: { message: 'Upstream answered 429.', type: 'rate_limit_error', param: null, code: 'rate_limit_exceeded' },
    });
  });

  it('turns non-string fields into strings, and drops extras', () => {
    const body = normaliseErrorBody(400, '{"error":{"message":"x","type":"invalid_request_error","code":400,"param":null,"extra":1}}');
    expect(body).toEqual({ error: { message: 'x', type: 'invalid_request_error', param: null, code: '400' } });
    expectSchema('ErrorResponse', body);
  });
});
