import { errorCodes, type FastifyInstance } from 'fastify';
import { parse as secureJsonParse } from 'secure-json-parse';
import { InvalidRequestError } from '../errors';
import { parseJson } from '../lib/json';

/**
 * Deeper than any real request (content parts and tool schemas stay far below it), far shallower
 * than what overflows the stack: JSON.stringify, which forwards the body, fails near 5,000 levels.
 */
export const MAX_JSON_DEPTH = 128;

/**
 * Structural caps, checked by one scan of the text before it is parsed, so a body of nonsense
 * (a megabyte of `{},`: 346,000 empty messages) is refused for the cost of reading it once rather
 * than parsed and validated item by item. Each cap is far above what real requests send.
 */
export interface JsonLimits {
  depth: number;
  /** Objects anywhere in the body: what validation spends its time on. */
  objects: number;
  /** Items in any one array (a long token-id `input` is the largest real one: 8,191). */
  arrayItems: number;
  /** Items of particular top-level arrays: OpenAI's own caps. */
  fields: Record<string, number>;
}

export const JSON_LIMITS: JsonLimits = {
  depth: MAX_JSON_DEPTH,
  objects: 20_000,
  arrayItems: 100_000,
  fields: { messages: 2048, tools: 128, functions: 128 },
};

/** Anthropic accepts up to 100,000 messages in a request: its surface keeps that cap. */
export const ANTHROPIC_JSON_LIMITS: JsonLimits = { ...JSON_LIMITS, fields: { ...JSON_LIMITS.fields, messages: 100_000 } };

/** Top-level names quoted back to the caller (`param`, the message): plain identifiers only. */
const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

export interface JsonShapeViolation {
  message: string;
  param: string | null;
}

function scratchFor(maxDepth: number) {
  const n = maxDepth + 2;
  return { isArray: new Uint8Array(n), items: new Uint32Array(n), caps: new Float64Array(n), capField: new Array<string | null>(n).fill(null) };
}
let scratch = scratchFor(MAX_JSON_DEPTH);

/**
 * One pass over JSON text (strings skipped) that stops at the first cap exceeded. It trusts the
 * text to be JSON only as far as counting brackets and commas: malformed text is JSON.parse's to refuse.
 */
export function checkJsonShape(json: string | Uint8Array, limits: JsonLimits): JsonShapeViolation | undefined {
  // Bytes, not characters: JSON's structural characters are ASCII, and UTF-8 never uses ASCII byte
  // values inside a multi-byte character, so the scan is the same, and a refused body is never decoded.
  const text = typeof json === 'string' ? Buffer.from(json, 'utf8') : Buffer.from(json.buffer, json.byteOffset, json.byteLength);
  const { depth: maxDepth, objects: maxObjects, arrayItems: maxItems } = limits;
  // Per open container: 1 for an array, 0 for an object; its item count so far; its cap. Each slot
  // is written when its container opens, so the arrays are reused across calls (allocating them
  // was half the scan's cost on an ordinary body).
  if (scratch.isArray.length < maxDepth + 2) scratch = scratchFor(maxDepth);
  const { isArray, items, caps, capField } = scratch;
  let depth = 0;
  let objects = 0;
  let lastKey: string | null = null;
  let lastStringStart = -1;
  let lastStringEnd = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === 32 || c === 10 || c === 13 || c === 9) continue;
    // The first value inside an empty array makes it one item long.
    if (depth > 0 && isArray[depth] === 1 && items[depth] === 0 && c !== 93 /* ] */) items[depth] = 1;
    if (c === 34 /* " */) {
      // Strings are skipped natively (indexOf), a quote counting as the end unless an odd number
      // of backslashes precedes it: text is mostly strings, and this keeps a megabyte to a few ms.
      const start = i;
      let from = i + 1;
      for (;;) {
        const quote = text.indexOf(34, from);
        if (quote === -1) return undefined; // unterminated: JSON.parse refuses it
        let backslashes = 0;
        for (let k = quote - 1; k > start && text[k] === 92; k--) backslashes++;
        if (backslashes % 2 === 0) {
          i = quote;
          break;
        }
        from = quote + 1;
      }
      lastStringStart = start;
      lastStringEnd = i;
    } else if (c === 58 /* : */) {
      if (depth === 1 && isArray[1] === 0) {
        // Only names short enough to quote back are kept (a megabyte-long key is not copied).
        lastKey = lastStringEnd - lastStringStart <= 65 ? text.toString('latin1', lastStringStart + 1, lastStringEnd) : null;
      }
    } else if (c === 91 /* [ */ || c === 123 /* { */) {
      if (++depth > maxDepth) {
        return { message: `The JSON body is nested more than ${maxDepth} levels deep.`, param: null };
      }
      const array = c === 91;
      isArray[depth] = array ? 1 : 0;
      items[depth] = 0;
      const field = depth === 2 && isArray[1] === 0 && lastKey !== null && FIELD_NAME.test(lastKey) ? lastKey : null;
      const fieldCap = field !== null && Object.hasOwn(limits.fields, field) ? limits.fields[field] : undefined;
      caps[depth] = array ? Math.min(maxItems, fieldCap ?? maxItems) : 0;
      capField[depth] = field;
      if (!array && ++objects > maxObjects) {
        return { message: `The JSON body holds more than ${maxObjects} objects.`, param: null };
      }
    } else if (c === 93 || c === 125 /* } */) {
      if (depth > 0) depth--;
    } else if (c === 44 /* , */ && depth > 0 && isArray[depth] === 1) {
      if (++items[depth] > caps[depth]) {
        const field = capField[depth];
        return {
          message: `${field === null ? 'An array in the JSON body' : `'${field}'`} has more than ${caps[depth]} items.`,
          param: field,
        };
      }
    }
  }
  return undefined;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * Routes that count every request against the caller's limits, refused ones included, set this:
     * a body over the structural caps then reaches the handler as a RefusedBody (unparsed) for it to
     * count and throw, so a flood of them meets 429s rather than endless 400s. Elsewhere such a body
     * is refused before the handler runs.
     */
    deferBodyRefusal?: boolean;
  }
}

/** A body refused by the structural caps, handed to a route with `deferBodyRefusal` instead of parsed. */
export class RefusedBody {
  constructor(readonly error: InvalidRequestError) {}
}

/** JSON.parse that refuses `__proto__` and `constructor.prototype` keys (a SyntaxError: a 400), as Fastify's does. */
const secureParse = (text: string): unknown => secureJsonParse(text, { protoAction: 'error', constructorAction: 'error' });

/**
 * Every body is read as JSON: OpenAI clients send application/json, and curl users often forget the
 * header. Bytes must be valid UTF-8 (JSON's encoding; replacing bad bytes would forward text the
 * caller never wrote) and stay within JSON_LIMITS (depth, objects, array items). An empty body is
 * no error here (DELETE with a JSON content type); routes that need a body say so with a 400.
 */
export function jsonBody(app: FastifyInstance) {
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser(['application/json', '*'], { parseAs: 'buffer' }, (req, body, done) => {
    // No route: the answer is 404 whatever the body holds (a multipart upload is not a bad JSON body).
    if (req.is404) {
      done(null, undefined);
      return;
    }
    const bytes = body as Buffer;
    if (bytes.length === 0) {
      done(null, undefined);
      return;
    }
    const limits = req.routeOptions?.config?.errorShape === 'anthropic' ? ANTHROPIC_JSON_LIMITS : JSON_LIMITS;
    const violation = checkJsonShape(bytes, limits);
    if (violation) {
      const refusal = new InvalidRequestError(violation.message, violation.param, 'request_too_complex');
      if (req.routeOptions?.config?.deferBodyRefusal) done(null, new RefusedBody(refusal));
      else done(refusal, undefined);
      return;
    }
    let text: string;
    try {
      text = utf8.decode(bytes);
    } catch {
      done(new InvalidRequestError('The request body is not valid UTF-8.'), undefined);
      return;
    }
    // The parser Fastify uses (refusing __proto__ and constructor.prototype), integers beyond 2^53
    // kept digit for digit (app/lib/json.ts).
    let value: unknown;
    try {
      value = parseJson(text, secureParse);
    } catch {
      // Malformed, or a poisoned key: Fastify's own error for it (a 400).
      done(new errorCodes.FST_ERR_CTP_INVALID_JSON_BODY(), undefined);
      return;
    }
    done(null, value);
  });
}
