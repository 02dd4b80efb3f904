import { parse as losslessParse, stringify as losslessStringify } from 'lossless-json';

/**
 * JSON that keeps integers beyond 2^53 exactly (`seed: 9223372036854775807`): callers' bodies are
 * parsed once, checked, and forwarded from the same parse, so what the upstream reads is what the
 * gateway checked, digit for digit. Such integers become BigInt; everything else is plain JSON.
 */

/** Any run of 16+ digits: the only text in which an unsafe integer can hide. */
const LONG_DIGITS = /\d{16}/;
const INTEGER = /^-?\d+$/;

function parseNumber(text: string): number | bigint {
  if (INTEGER.test(text)) {
    const n = Number(text);
    return Number.isSafeInteger(n) ? n : BigInt(text);
  }
  return Number(text);
}

/** JSON.parse, except that unsafe integers come back as BigInt. Throws SyntaxError like JSON.parse. */
export function parseJson(text: string): unknown {
  if (!LONG_DIGITS.test(text)) return JSON.parse(text);
  return losslessParse(text, null, parseNumber);
}

/** JSON.stringify that writes BigInt values as their digits. */
export function toJson(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch (err) {
    if (!(err instanceof TypeError)) throw err;
    return losslessStringify(value) ?? 'null';
  }
}
