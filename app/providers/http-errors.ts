/**
 * How a failed HTTP call to a provider becomes the API's error (app/errors.ts), in one place for
 * every HTTP adapter. Nothing the provider says about our credentials reaches the caller.
 */
import { errors as undiciErrors } from 'undici';
import {
  ApiError,
  UpstreamClientError,
  UpstreamError,
  UpstreamTimeoutError,
  normaliseErrorBody,
  type ErrorBody,
} from '../errors';

/** Anything that looks like an API key, including OpenAI's masked echo (`sk-proj-****abcd`). */
const KEY_LIKE = /\b(sk|rk|pk)-[A-Za-z0-9_*-]{4,}/g;

/** Replaces key-shaped text and each given secret (verbatim) in `text`. */
export function scrubSecrets(text: string, secrets: ReadonlyArray<string | undefined> = []): string {
  let out = text.replace(KEY_LIKE, '[redacted]');
  for (const s of secrets) if (s && s.length >= 4) out = out.split(s).join('[redacted]');
  return out;
}

function scrubBody(body: ErrorBody, secrets: ReadonlyArray<string | undefined>): ErrorBody {
  return { error: { ...body.error, message: scrubSecrets(body.error.message, secrets) } };
}

export const CREDENTIALS_REFUSED = "The upstream model server rejected the gateway's credentials.";

/**
 * A non-2xx answer → the error to throw. 401/403 mean the gateway's own credentials were refused:
 * the caller can do nothing about it (502). Other 4xx pass through, normalised; 5xx are 502.
 * `normalise` turns the provider's error text into ErrorResponse (OpenAI's shape by default).
 */
export function errorForStatus(
  status: number,
  text: string,
  retryAfter: string | undefined,
  secrets: ReadonlyArray<string | undefined>,
  normalise: (status: number, text: string) => ErrorBody = normaliseErrorBody,
): ApiError {
  if (status >= 500) return new UpstreamError(`The upstream model server answered ${status}.`, status);
  if (status === 401 || status === 403) return new UpstreamError(CREDENTIALS_REFUSED, status);
  const headers: Record<string, string> = retryAfter ? { 'retry-after': retryAfter } : {};
  return new UpstreamClientError(status, scrubBody(normalise(status, text), secrets), headers);
}

export function isTimeout(err: unknown): boolean {
  const code = (err as { code?: string } | undefined)?.code;
  return (
    err instanceof undiciErrors.HeadersTimeoutError ||
    err instanceof undiciErrors.BodyTimeoutError ||
    code === 'UND_ERR_HEADERS_TIMEOUT' ||
    code === 'UND_ERR_BODY_TIMEOUT' ||
    code === 'UND_ERR_CONNECT_TIMEOUT'
  );
}

/**
 * A thrown transport failure → the error to throw. The caller's own abort is rethrown as is (the
 * pipeline knows why it aborted); ApiErrors pass; the rest say nothing about hosts or sockets.
 */
export function errorForFailure(err: unknown, signal: AbortSignal | undefined, during: 'request' | 'body'): unknown {
  if (signal?.aborted) return err;
  if (err instanceof ApiError) return err;
  if (isTimeout(err)) return new UpstreamTimeoutError();
  return new UpstreamError(
    during === 'request'
      ? 'The upstream model server could not be reached.'
      : 'The upstream model server broke off its answer.',
  );
}

/** `retry-after` as one string, if the provider sent one. */
export function retryAfterOf(headers: Record<string, string | string[] | undefined>): string | undefined {
  const v = headers['retry-after'];
  return Array.isArray(v) ? v[0] : v;
}
