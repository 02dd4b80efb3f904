/**
 * Anthropic's error body (`{"type":"error","error":{"type","message"}}`) as ErrorResponse. The
 * error's `type` is kept as is (invalid_request_error, rate_limit_error, not_found_error, …): the
 * Messages surface answers errors in Anthropic's shape and maps them back one to one.
 */
import { normaliseErrorBody, type ErrorBody } from '../errors';

export function normaliseAnthropicError(status: number, text: string): ErrorBody {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const e = (parsed as { type?: unknown; error?: { type?: unknown; message?: unknown } } | undefined)?.error;
  if (!e || typeof e !== 'object' || (parsed as { type?: unknown }).type !== 'error') return normaliseErrorBody(status, text);
  return {
    error: {
      message: typeof e.message === 'string' ? e.message : `Upstream answered ${status}.`,
      type: typeof e.type === 'string' ? e.type : status === 429 ? 'rate_limit_error' : 'invalid_request_error',
      param: null,
      code: null,
    },
  };
}
