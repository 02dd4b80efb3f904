import { sha256Hex } from '../lib/sha256';

/**
 * Request fields that change how an answer is delivered, stored or attributed, never what it says.
 * - `stream`, `stream_options`: the same answer, framed differently. The cached entry records its
 *   `kind`, and the route decides whether it can serve the other framing from it.
 * - `user`, `safety_identifier`: end-user ids for abuse monitoring; the tenant boundary is the key id.
 * - `metadata`, `store`: whether and how OpenAI keeps the completion.
 * - `prompt_cache_key`: a routing hint for OpenAI's prompt cache.
 * Everything else stays in, including fields that rarely matter (`service_tier` appears in the body):
 * an unnecessary miss costs one upstream call, a wrong hit serves a wrong answer.
 */
export const FIELDS_NOT_IN_KEY: readonly string[] = [
  'stream',
  'stream_options',
  'user',
  'safety_identifier',
  'metadata',
  'store',
  'prompt_cache_key',
];

/** Bump when the key's layout changes, so old entries are never read under new meanings. */
const KEY_VERSION = 'v1';

/** Built once: `cacheKey` runs on every cacheable request. */
const SKIPPED_IN_KEY: ReadonlySet<string> = new Set(FIELDS_NOT_IN_KEY);

/** Appends `obj` with its keys sorted, leaving out `skip` (top level only) and undefined fields. */
function canonicalObject(obj: Record<string, unknown>, skip?: ReadonlySet<string>): string {
  let out = '{';
  for (const k of Object.keys(obj).sort()) {
    const v = obj[k];
    // Like JSON.stringify: a field set to undefined is a field not sent.
    if (v === undefined || typeof v === 'function' || skip?.has(k)) continue;
    if (out.length > 1) out += ',';
    out += `${JSON.stringify(k)}:${canonicalJson(v)}`;
  }
  return `${out}}`;
}

/** JSON with object keys sorted at every depth; arrays keep their order (message order matters). */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    const s = JSON.stringify(value);
    return s === undefined ? 'null' : s;
  }
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i ? ',' : '') + canonicalJson(value[i]);
    return `${out}]`;
  }
  return canonicalObject(value as Record<string, unknown>);
}

/**
 * SHA-256 hex of the caller's key id and the request's answer-relevant fields. The key id is part of
 * the hashed input, so entries never cross tenants even if the store is shared. The hashed text is
 * `canonicalJson([KEY_VERSION, keyId, body without FIELDS_NOT_IN_KEY])`, written out directly.
 */
export function cacheKey(keyId: string, body: object): string {
  const fields = canonicalObject(body as Record<string, unknown>, SKIPPED_IN_KEY);
  return sha256Hex(`[${JSON.stringify(KEY_VERSION)},${JSON.stringify(keyId)},${fields}]`);
}
