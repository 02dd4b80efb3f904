import type { IncomingHttpHeaders } from 'node:http';
import type { Surface } from '../../providers/types';

/**
 * Caller headers that travel to the provider. Never the caller's key, nor OpenAI-Organization or
 * OpenAI-Project: those name an account the gateway's own key does not belong to.
 */
const OPENAI_HEADERS = ['idempotency-key', 'openai-beta', 'x-client-request-id'] as const;
const ANTHROPIC_HEADERS = ['anthropic-version', 'anthropic-beta'] as const;

export function forwardHeaders(headers: IncomingHttpHeaders, surface: Surface): Record<string, string> {
  const out: Record<string, string> = {};
  const names = surface === 'messages' ? ANTHROPIC_HEADERS : OPENAI_HEADERS;
  for (const name of names) {
    const v = headers[name];
    if (typeof v === 'string' && v.length <= 512) out[name] = v;
  }
  return out;
}

/**
 * Cache-Control: no-cache or no-store from the caller skips the response cache. (Whether a body is
 * deterministic enough to cache is each surface codec's `shape().cacheable`.)
 */
export function wantsNoCache(headers: IncomingHttpHeaders): boolean {
  const cc = headers['cache-control'];
  const value = Array.isArray(cc) ? cc.join(',') : cc;
  return value !== undefined && /(^|,)\s*no-(cache|store)\s*(,|$)/i.test(value);
}
