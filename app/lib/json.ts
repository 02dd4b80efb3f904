import { randomBytes } from 'node:crypto';

/**
 * JSON that keeps integers beyond 2^53 exactly (`seed: 9223372036854775807`): a caller's body is
 * parsed once, checked, and forwarded from the same parse, so what the upstream reads is what the
 * gateway checked, digit for digit; providers' answers keep theirs too. Such integers come back as
 * BigInt and are written back as their digits.
 *
 * They travel through the fast parser as strings carrying a per-process mark no sender can guess,
 * and are turned into BigInt afterwards: linear, unlike a lossless parser (~200 ms per MB).
 */

/** Any run of 16+ digits: the only text in which an unsafe integer can hide. */
const LONG_DIGITS = /\d{16}/;
const MARK = `\u0000int-${randomBytes(8).toString('hex')}:`;
/** The mark as it is written inside a JSON string literal. */
const MARK_JSON = JSON.stringify(MARK).slice(1, -1);
/** A marked integer as toJson's first pass writes it: `"<mark>digits"`. */
const MARKED = new RegExp(`"${MARK_JSON.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&')}(-?\\d+)"`, 'g');

/** Ranges [start, end) of integer literals, outside strings, that a double cannot hold exactly. */
export function unsafeIntegers(text: string): Array<[number, number]> {
  const found: Array<[number, number]> = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34 /* " */) {
      // Skip the string: its end is the next quote not escaped by an odd run of backslashes.
      let from = i + 1;
      for (;;) {
        const quote = text.indexOf('"', from);
        if (quote === -1) return found;
        let backslashes = 0;
        for (let k = quote - 1; k > i && text.charCodeAt(k) === 92; k--) backslashes++;
        if (backslashes % 2 === 0) {
          i = quote;
          break;
        }
        from = quote + 1;
      }
    } else if (c === 45 /* - */ || (c >= 48 && c <= 57)) {
      let end = i + 1;
      let integer = true;
      for (; end < text.length; end++) {
        const d = text.charCodeAt(end);
        if (d >= 48 && d <= 57) continue;
        // A fraction or an exponent: a double, as the sender wrote it.
        if (d === 46 || d === 101 || d === 69 || d === 43 || d === 45) integer = false;
        else break;
      }
      if (integer && end - i >= 16 && !Number.isSafeInteger(Number(text.slice(i, end)))) found.push([i, end]);
      i = end - 1;
    }
  }
  return found;
}

/** Marked strings back to BigInt, in place (callers bound the depth). */
function revive(value: unknown): unknown {
  if (typeof value === 'string') return value.startsWith(MARK) ? BigInt(value.slice(MARK.length)) : value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = revive(value[i]);
  } else if (value !== null && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    for (const k of Object.keys(obj)) obj[k] = revive(obj[k]);
  }
  return value;
}

/**
 * `parse` (JSON.parse by default; the body parser passes one that refuses `__proto__`), except that
 * unsafe integers come back as BigInt. Throws what `parse` throws on malformed text.
 */
export function parseJson(text: string, parse: (text: string) => unknown = JSON.parse): unknown {
  const unsafe = LONG_DIGITS.test(text) ? unsafeIntegers(text) : [];
  if (unsafe.length === 0) return parse(text);
  let marked = '';
  let last = 0;
  for (const [start, end] of unsafe) {
    marked += `${text.slice(last, start)}"${MARK_JSON}${text.slice(start, end)}"`;
    last = end;
  }
  return revive(parse(marked + text.slice(last)));
}

/** JSON.stringify that writes BigInt values as their digits. */
export function toJson(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch (err) {
    if (!(err instanceof TypeError)) throw err;
    const marked = JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? `${MARK}${v}` : v));
    return marked.replace(MARKED, '$1');
  }
}
