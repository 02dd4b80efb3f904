import { ApiError, UpstreamClientError, UpstreamError, UpstreamTimeoutError } from '../../../app/errors';
import { bedrockError } from '../../../app/translate/bedrock-errors';

const named = (name: string, message = 'details') => Object.assign(new Error(message), { name });

describe('bedrockError', () => {
  it.each([
    ['ThrottlingException', 429, 'rate_limit_error'],
    ['ServiceQuotaExceededException', 429, 'rate_limit_error'],
    ['ValidationException', 400, 'invalid_request_error'],
    ['ResourceNotFoundException', 404, 'invalid_request_error'],
    ['ModelNotReadyException', 502, 'api_error'],
    ['ServiceUnavailableException', 502, 'api_error'],
    ['InternalServerException', 502, 'api_error'],
    ['ModelStreamErrorException', 502, 'api_error'],
    ['ModelTimeoutException', 504, 'api_error'],
    ['TimeoutError', 504, 'api_error'],
    ['AccessDeniedException', 502, 'api_error'],
    ['ExpiredTokenException', 502, 'api_error'],
    ['ECONNREFUSED', 502, 'api_error'],
  ])('%s → %i %s', (name, status, type) => {
    const err = bedrockError(named(name)) as ApiError;
    expect([err.status, err.type]).toEqual([status, type]);
  });

  it('passes a validation message, never a credential-refusal message', () => {
    expect((bedrockError(named('ValidationException', 'messages: empty')) as UpstreamClientError).message).toBe('messages: empty');
    const denied = bedrockError(named('AccessDeniedException', 'User arn:aws:iam::123:user/x is not authorized')) as UpstreamError;
    expect(denied.message).not.toMatch(/arn|123/);
  });

  it('returns the error itself once the caller aborted, and ApiErrors as they are', () => {
    const ac = new AbortController();
    ac.abort();
    const abort = named('AbortError');
    expect(bedrockError(abort, ac.signal)).toBe(abort);
    const timeout = new UpstreamTimeoutError();
    expect(bedrockError(timeout)).toBe(timeout);
  });
});
