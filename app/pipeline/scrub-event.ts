import type { Surface } from '../providers/types';
import type { Scrubber } from '../security/scrub';

/**
 * An error event from a provider, rebuilt for the caller from the allow-list (message scrubbed of
 * credentials, type and code from known values, param only as a field path) in its surface's own
 * error-event shape.
 */
export function scrubErrorEvent(scrubber: Pick<Scrubber, 'errorBody' | 'anthropicErrorBody'>, surface: Surface, data: string): string {
  let raw: unknown;
  try {
    raw = JSON.parse(data);
  } catch {
    raw = data;
  }
  if (surface === 'messages') return JSON.stringify(scrubber.anthropicErrorBody(502, raw));
  if (surface === 'responses') {
    // ResponseErrorEvent: {type: 'error', code, message, param, sequence_number}.
    const r = (raw ?? {}) as Record<string, unknown>;
    const { error } = scrubber.errorBody(502, { error: { message: r.message, type: 'api_error', code: r.code, param: r.param } });
    const sequence = typeof r.sequence_number === 'number' ? r.sequence_number : 0;
    return JSON.stringify({ type: 'error', code: error.code, message: error.message, param: error.param, sequence_number: sequence });
  }
  return JSON.stringify(scrubber.errorBody(502, raw));
}
