/**
 * Bedrock's exceptions (by name, as the AWS SDK throws them, in answers and mid-stream) → the
 * API's errors. Which the router may retry follows from the status it sees:
 * - ThrottlingException, ServiceQuotaExceededException → 429 rate_limit_error (retryable);
 * - ModelNotReadyException, ServiceUnavailableException, InternalServerException,
 *   ModelStreamErrorException, ModelErrorException → 502 UpstreamError (retryable as a 5xx);
 * - ModelTimeoutException and SDK timeouts → 504 UpstreamTimeoutError;
 * - ValidationException → 400 invalid_request_error with Bedrock's message (not retried);
 * - ResourceNotFoundException → 404 model_not_found (a deployment naming a model the account lacks);
 * - AccessDeniedException and signature or token failures → 502 that says nothing about credentials;
 * - anything else (connection refused, TLS, DNS) → 502 "could not be reached".
 */
import {
  ApiError,
  UpstreamClientError,
  UpstreamError,
  UpstreamTimeoutError,
  type ErrorBody,
} from '../errors';
import { CREDENTIALS_REFUSED, scrubSecrets } from '../providers/http-errors';

const CREDENTIAL_ERRORS = new Set([
  'AccessDeniedException',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'ExpiredTokenException',
  'IncompleteSignature',
  'MissingAuthenticationTokenException',
  'CredentialsProviderError',
]);
const SERVER_ERRORS = new Set([
  'ModelNotReadyException',
  'ServiceUnavailableException',
  'InternalServerException',
  'ModelStreamErrorException',
  'ModelErrorException',
]);
const TIMEOUTS = new Set(['ModelTimeoutException', 'TimeoutError', 'RequestTimeout', 'RequestTimeoutException']);

function body(message: string, type: string, code: string | null, param: string | null = null): ErrorBody {
  return { error: { message, type, param, code } };
}

/** The API error for anything the Bedrock client threw; the caller's own abort is returned as is. */
export function bedrockError(err: unknown, signal?: AbortSignal): unknown {
  if (signal?.aborted) return err;
  if (err instanceof ApiError) return err;
  const name = (err as { name?: string } | undefined)?.name ?? '';
  const raw = typeof (err as { message?: unknown })?.message === 'string' ? (err as { message: string }).message : '';
  const message = scrubSecrets(raw);
  if (name === 'ThrottlingException' || name === 'ServiceQuotaExceededException') {
    return new UpstreamClientError(429, body('The model is receiving too many requests on the provider; try again later.', 'rate_limit_error', 'rate_limit_exceeded'));
  }
  if (name === 'ValidationException') {
    return new UpstreamClientError(400, body(message || 'The provider refused the request as invalid.', 'invalid_request_error', null));
  }
  if (name === 'ResourceNotFoundException') {
    return new UpstreamClientError(404, body('The model was not found on the provider.', 'invalid_request_error', 'model_not_found', 'model'));
  }
  if (CREDENTIAL_ERRORS.has(name)) return new UpstreamError(CREDENTIALS_REFUSED);
  if (TIMEOUTS.has(name)) return new UpstreamTimeoutError();
  if (SERVER_ERRORS.has(name)) return new UpstreamError(`The upstream model server failed (${name}).`);
  return new UpstreamError('The upstream model server could not be reached.');
}
