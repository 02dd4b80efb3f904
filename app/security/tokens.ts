/**
 * Credential-shaped text, found without knowing the credential: what a scrubber must remove even
 * when the secret was never configured here (a provider's key of an unknown format, a token in a
 * header an upstream dumped). Tuned to leave prose, model ids, UUIDs and dates alone.
 */
export const REDACTED = '[redacted]';

/**
 * `Authorization: Bearer …`, `Basic …`: the scheme stays, the credential goes. A plain word after
 * it ("Bearer authentication failed") is prose and stays.
 */
const AUTH_SCHEME = /\b(Bearer|Basic)(\s+)([A-Za-z0-9._~+/\-]+=*)/gi;
const PLAIN_WORD = /^[A-Za-z]{1,19}$/;
/** `api_key=…`, `"x-api-key": "…"`, `password: …` — a named secret's value, 8+ characters. */
const NAMED_VALUE =
  /\b((?:x-)?api[_-]?key|apikey|access[_-]?token|auth[_-]?token|secret(?:[_-]?key)?|password|passwd|token|authorization)(["']?\s*[:=]\s*["']?)(?!\[redacted\])([^\s"',;&)}\]]{8,})/gi;
/** OpenAI/Anthropic-style keys (`sk-…`, `sk-ant-…`, `sk-proj-****abcd`), restricted and publishable keys. */
const PREFIXED_KEY = /\b(?:sk|rk|pk)-[A-Za-z0-9_*\-]{4,}/g;
/** AWS access key ids. */
const AWS_KEY_ID = /\b(?:AKIA|ASIA|AROA|AIDA|ANPA|ANVA|AGPA)[A-Z0-9]{16}\b/g;
/** JSON Web Tokens. */
const JWT = /\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/g;
/** Runs of token characters long enough to hold a random credential; `looksSecret` decides. */
const CANDIDATE = /[A-Za-z0-9][A-Za-z0-9_\-.+/=~]{15,}/g;
const SEGMENT_SPLIT = /[-_.:/+=~[\]]/;

/**
 * True when some part of `token` (split at punctuation) reads like random characters: 16+ of them
 * mixing letters and digits, or letters changing case like base64. Words, CamelCase, model ids
 * (`claude-sonnet-4-5-20250929`), UUIDs and dates have no such part.
 */
export function looksSecret(token: string): boolean {
  for (const seg of token.split(SEGMENT_SPLIT)) {
    if (seg.length < 16) continue;
    let digits = 0;
    let letters = 0;
    let flips = 0;
    let upperPairs = 0;
    let lastUpper: boolean | undefined;
    for (let i = 0; i < seg.length; i++) {
      const c = seg.charCodeAt(i);
      if (c >= 48 && c <= 57) digits++;
      else {
        const upper = c >= 65 && c <= 90;
        const lower = c >= 97 && c <= 122;
        if (!upper && !lower) continue;
        letters++;
        if (lastUpper !== undefined && lastUpper !== upper) flips++;
        if (lastUpper && upper) upperPairs++;
        lastUpper = upper;
      }
    }
    if (digits >= 2 && letters >= 2) return true;
    // Base64 letters change case every other character and pair capitals; CamelCase words change
    // case less often, and acronyms (HTTPSConnection) pair capitals but rarely change case.
    if (letters >= 16 && flips >= seg.length / 3 && upperPairs >= 2) return true;
  }
  return false;
}

/** `s` with every credential-shaped token replaced by `[redacted]`. */
export function redactTokens(s: string): string {
  return s
    .replace(AUTH_SCHEME, (m, scheme: string, space: string, cred: string) =>
      PLAIN_WORD.test(cred) ? m : `${scheme}${space}${REDACTED}`,
    )
    .replace(NAMED_VALUE, `$1$2${REDACTED}`)
    .replace(PREFIXED_KEY, REDACTED)
    .replace(AWS_KEY_ID, REDACTED)
    .replace(JWT, REDACTED)
    .replace(CANDIDATE, (m) => (looksSecret(m) ? REDACTED : m));
}
