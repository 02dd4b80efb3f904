/**
 * What an error may carry to the caller. Upstream servers echo what they were sent (our provider
 * key in a message, a header dump in `param`, a debug comment in a stream), so nothing of theirs is
 * relayed as is: every caller-facing error is rebuilt from an allow-list, its text scrubbed of the
 * configured secrets (in every encoding they are likely to be echoed in) and of anything shaped
 * like a credential.
 */
import type { ErrorBody } from '../errors';
import { looksSecret, redactTokens, REDACTED } from './tokens';

export { REDACTED } from './tokens';

/** Anthropic's error shape (the /v1/messages surface). */
export interface AnthropicErrorBody {
  type: 'error';
  error: { type: string; message: string };
}

export interface Scrubber {
  /** `s` with every configured secret and every credential-shaped token replaced by `[redacted]`. */
  text(s: string): string;
  /** The caller-facing OpenAI ErrorResponse for an error answer (`raw`: a parsed or textual body). */
  errorBody(status: number, raw: unknown): ErrorBody;
  /** The same, in Anthropic's shape and type vocabulary. */
  anthropicErrorBody(status: number, raw: unknown): AnthropicErrorBody;
  /**
   * One server-sent event (the text between blank lines) made safe to relay: comment lines dropped,
   * an error payload (`{"error": …}`, Anthropic's `event: error`) rebuilt like `errorBody`. Returns
   * undefined when nothing is left to send. Ordinary data events come back unchanged.
   */
  sseEvent(event: string, shape?: 'openai' | 'anthropic'): string | undefined;
}

/** Error types clients switch on (OpenAI's and the ones OpenAI-compatible servers use). */
const OPENAI_TYPES = new Set([
  'invalid_request_error',
  'authentication_error',
  'permission_error',
  'not_found_error',
  'rate_limit_error',
  'insufficient_quota',
  'tokens_exceeded',
  'requests',
  'tokens',
  'api_error',
  'server_error',
  'timeout_error',
  'overloaded_error',
  'request_too_large',
]);

/** Anthropic's documented `error.type` values. */
const ANTHROPIC_TYPES = new Set([
  'invalid_request_error',
  'authentication_error',
  'permission_error',
  'not_found_error',
  'request_too_large',
  'rate_limit_error',
  'billing_error',
  'api_error',
  'timeout_error',
  'overloaded_error',
]);

/** OpenAI types Anthropic's vocabulary spells differently. */
const TO_ANTHROPIC: Record<string, string> = {
  insufficient_quota: 'billing_error',
  tokens_exceeded: 'rate_limit_error',
  requests: 'rate_limit_error',
  tokens: 'rate_limit_error',
  server_error: 'api_error',
};

const OPENAI_CATCH_ALL = new Set(['invalid_request_error', 'api_error']);

/** Codes are short identifiers (`rate_limit_exceeded`, `context_length_exceeded`, vLLM's `400`). */
const CODE = /^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$/;
/** A field path: `model`, `messages[0].content`, `tools[2].function.parameters`. */
const FIELD_PATH = /^[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*|\[\d{1,6}\])*$/;
/** Longer messages are cut: no legitimate error needs more, and an echoed body would. */
const MAX_MESSAGE = 2000;

function openaiDefaultType(status: number): string {
  if (status === 429) return 'rate_limit_error';
  return status >= 500 ? 'api_error' : 'invalid_request_error';
}

function anthropicDefaultType(status: number): string {
  switch (status) {
    case 401:
      return 'authentication_error';
    case 403:
      return 'permission_error';
    case 404:
      return 'not_found_error';
    case 413:
      return 'request_too_large';
    case 429:
      return 'rate_limit_error';
    case 504:
      return 'timeout_error';
    case 529:
      return 'overloaded_error';
    default:
      return status >= 500 ? 'api_error' : 'invalid_request_error';
  }
}

function defaultMessage(status: number): string {
  return status >= 500 ? 'The upstream model server failed to answer.' : `The request was refused (${status}).`;
}

/** The fields an error body may offer, wherever the server put them. */
interface RawError {
  message: unknown;
  type: unknown;
  param: unknown;
  code: unknown;
}

function fields(raw: unknown): RawError {
  let value = raw;
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch {
      // A plain-text error body: it is the message.
      return { message: value, type: undefined, param: undefined, code: undefined };
    }
  }
  if (!value || typeof value !== 'object') return { message: undefined, type: undefined, param: undefined, code: undefined };
  const top = value as Record<string, unknown>;
  // OpenAI and Anthropic nest the error; vLLM and others put it at the top (`{"object":"error",…}`),
  // some send `{"error": "text"}`, FastAPI sends `{"detail": …}`.
  const inner = top.error;
  if (inner && typeof inner === 'object') {
    const e = inner as Record<string, unknown>;
    return { message: e.message, type: e.type, param: e.param, code: e.code };
  }
  if (typeof inner === 'string') return { message: inner, type: undefined, param: undefined, code: top.code };
  return { message: top.message ?? top.detail, type: top.type, param: top.param, code: top.code };
}

/** Every form in which `secret` is likely to be echoed: as is, URL-encoded, JSON-escaped, base64. */
export function secretForms(secret: string): string[] {
  const forms = new Set<string>([secret]);
  forms.add(encodeURIComponent(secret));
  const escaped = JSON.stringify(secret).slice(1, -1);
  forms.add(escaped);
  forms.add(JSON.stringify(escaped).slice(1, -1)); // JSON inside a JSON string
  const bytes = Buffer.from(secret, 'utf8');
  // Base64 of a longer text holding the secret (`Basic base64(user:secret)`) contains one of three
  // encodings, depending on where the secret starts: keep the characters that only its bytes decide.
  for (let lead = 0; lead < 3; lead++) {
    const padded = Buffer.concat([Buffer.alloc(lead), bytes]);
    const skip = [0, 2, 3][lead];
    const whole = Math.floor(((lead + bytes.length) * 8) / 6);
    for (const enc of ['base64', 'base64url'] as const) {
      const form = padded.toString(enc).replace(/=+$/, '').slice(skip, whole);
      if (form.length >= 8) forms.add(form);
    }
  }
  return [...forms].filter((f) => f.length > 0);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Secrets shorter than this are not looked for: replacing `abc` everywhere would wreck every message. */
const MIN_SECRET_LENGTH = 6;

export function createScrubber(opts: { secrets: Array<string | undefined | null> }): Scrubber {
  const forms = new Set<string>();
  for (const s of opts.secrets) {
    if (typeof s === 'string' && s.length >= MIN_SECRET_LENGTH) for (const f of secretForms(s)) forms.add(f);
  }
  // Longest first, so a secret's base64 is not half-replaced by a shorter form it contains.
  const exact = forms.size
    ? new RegExp([...forms].sort((a, b) => b.length - a.length).map(escapeRegExp).join('|'), 'g')
    : undefined;

  function text(s: string): string {
    const withoutSecrets = exact ? s.replace(exact, REDACTED) : s;
    return redactTokens(withoutSecrets);
  }

  /** `v` when it is a short identifier that gives nothing away, else null. */
  function safeCode(v: unknown): string | null {
    const s = typeof v === 'number' && Number.isInteger(v) ? String(v) : v;
    if (typeof s !== 'string' || !CODE.test(s) || looksSecret(s) || text(s) !== s) return null;
    return s;
  }

  function safeParam(v: unknown): string | null {
    if (typeof v !== 'string' || v.length > 256 || !FIELD_PATH.test(v) || text(v) !== v) return null;
    // A path's names are short words; one long random-looking name is an echoed token.
    return v.split(/[.[\]]/).some(looksSecret) ? null : v;
  }

  function safeMessage(status: number, v: unknown): string {
    if (typeof v !== 'string' || v.trim() === '') return defaultMessage(status);
    const cut = v.length > MAX_MESSAGE ? `${v.slice(0, MAX_MESSAGE)}…` : v;
    return text(cut);
  }

  function errorBody(status: number, raw: unknown): ErrorBody {
    const f = fields(raw);
    const type = typeof f.type === 'string' && OPENAI_TYPES.has(f.type) ? f.type : openaiDefaultType(status);
    return { error: { message: safeMessage(status, f.message), type, param: safeParam(f.param), code: safeCode(f.code) } };
  }

  function anthropicErrorBody(status: number, raw: unknown): AnthropicErrorBody {
    const f = fields(raw);
    // Anthropic's types follow the status; OpenAI's catch-alls (a 404 or 401 is an
    // invalid_request_error there) say less than the status does.
    let type = typeof f.type === 'string' && !OPENAI_CATCH_ALL.has(f.type) ? (TO_ANTHROPIC[f.type] ?? f.type) : undefined;
    if (!type || !ANTHROPIC_TYPES.has(type)) type = anthropicDefaultType(status);
    return { type: 'error', error: { type, message: safeMessage(status, f.message) } };
  }

  function sseEvent(event: string, shape: 'openai' | 'anthropic' = 'openai'): string | undefined {
    // The common case, one `data:` line that is not an error, costs one indexOf.
    if (event.startsWith('data: ') && !event.includes('\n') && !event.includes('"error"')) return event;
    const lines = event.split(/\r?\n/).filter((l) => !l.startsWith(':'));
    if (lines.length === 0 || lines.every((l) => l === '')) return undefined;
    const eventName = lines.find((l) => l.startsWith('event:'))?.slice(6).trim();
    const dataLines = lines.filter((l) => l.startsWith('data:')).map((l) => l.slice(l[5] === ' ' ? 6 : 5));
    const data = dataLines.join('\n');
    let payload: unknown;
    try {
      payload = JSON.parse(data);
    } catch {
      payload = undefined;
    }
    const isError =
      eventName === 'error' ||
      (payload !== null && typeof payload === 'object' && ('error' in payload || (payload as { type?: unknown }).type === 'error'));
    if (!isError) {
      // Only `event:`, `data:`, `id:`, `retry:` fields reach the caller; unknown fields could carry anything.
      const kept = lines.filter((l) => /^(event|data|id|retry):/.test(l));
      return kept.length ? kept.join('\n') : undefined;
    }
    // The status of an error inside a 200 stream is unknown: 500 picks server-side defaults.
    const status = statusOf(payload);
    if (shape === 'anthropic') {
      return `event: error\ndata: ${JSON.stringify(anthropicErrorBody(status, payload ?? data))}`;
    }
    return `data: ${JSON.stringify(errorBody(status, payload ?? data))}`;
  }

  return { text, errorBody, anthropicErrorBody, sseEvent };
}

/** An error event's own status when it names one (vLLM's numeric `code`), else 500. */
function statusOf(payload: unknown): number {
  const code = (payload as { error?: { code?: unknown }; code?: unknown } | undefined)?.error?.code ??
    (payload as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' && code >= 400 && code <= 599 ? code : 500;
}
