import type { FastifyInstance } from 'fastify';
import { InvalidRequestError } from '../errors';

/**
 * Deeper than any real request (content parts and tool schemas stay far below it), far shallower
 * than what overflows the stack: JSON.stringify, which forwards the body, fails near 5,000 levels.
 */
export const MAX_JSON_DEPTH = 128;

/** True when the JSON text nests arrays and objects deeper than `max` (strings are skipped). */
export function nestingExceeds(text: string, max: number): boolean {
  if (text.length <= max) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 91 /* [ */ || c === 123 /* { */) {
      if (++depth > max) return true;
    } else if (c === 93 /* ] */ || c === 125 /* } */) depth--;
  }
  return false;
}

/**
 * Every body is read as JSON: OpenAI clients send application/json, and curl users often forget the
 * header. Bytes must be valid UTF-8 (JSON's encoding; replacing bad bytes would forward text the
 * caller never wrote) and nest at most MAX_JSON_DEPTH levels. An empty body is no error here
 * (DELETE with a JSON content type); routes that need a body say so with a 400.
 */
export function jsonBody(app: FastifyInstance) {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser(['application/json', '*'], { parseAs: 'buffer' }, (req, body, done) => {
    // No route: the answer is 404 whatever the body holds (a multipart upload is not a bad JSON body).
    if (req.is404) {
      done(null, undefined);
      return;
    }
    let text: string;
    try {
      text = utf8.decode(body as Buffer);
    } catch {
      done(new InvalidRequestError('The request body is not valid UTF-8.'), undefined);
      return;
    }
    if (text === '') done(null, undefined);
    else if (nestingExceeds(text, MAX_JSON_DEPTH)) {
      done(new InvalidRequestError(`The JSON body is nested more than ${MAX_JSON_DEPTH} levels deep.`), undefined);
    } else parseJson(req, text, done);
  });
}
