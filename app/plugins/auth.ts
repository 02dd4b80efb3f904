import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import { AuthenticationError } from '../errors';
import type { Authenticator } from '../services/authenticator';
import type { ApiKeyRecord } from '../stores/types';

declare module 'fastify' {
  interface FastifyRequest {
    apiKey?: ApiKeyRecord;
  }
}

/** `Authorization: Bearer <key>` or `X-API-Key: <key>`. */
export function presentedKey(headers: FastifyRequest['headers']): string | undefined {
  const auth = headers.authorization;
  if (typeof auth === 'string' && auth.length > 7 && auth.slice(0, 7).toLowerCase() === 'bearer ') {
    return auth.slice(7).trim() || undefined;
  }
  const apiKey = headers['x-api-key'];
  return typeof apiKey === 'string' && apiKey.trim() ? apiKey.trim() : undefined;
}

/** preHandler for client routes: resolves the caller's key or answers 401. */
export function requireClientKey(authenticator: Authenticator): preHandlerAsyncHookHandler {
  return async function clientKey(request: FastifyRequest, _reply: FastifyReply) {
    const key = await authenticator.authenticate(presentedKey(request.headers));
    request.apiKey = key;
  };
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/**
 * preHandler for admin routes: the bearer token must equal ADMIN_API_KEY (compared in constant time
 * over fixed-length digests). Client keys never open these routes; without ADMIN_API_KEY they are shut.
 */
export function requireAdmin(adminKey: string | undefined): preHandlerAsyncHookHandler {
  const expected = adminKey ? digest(adminKey) : undefined;
  return async function admin(request: FastifyRequest) {
    const auth = request.headers.authorization;
    const token = typeof auth === 'string' && /^bearer /i.test(auth) ? auth.slice(7).trim() : '';
    if (!expected) throw new AuthenticationError('The admin API is disabled: set ADMIN_API_KEY to enable it.');
    if (!token || !timingSafeEqual(digest(token), expected)) {
      throw new AuthenticationError('Incorrect admin API key provided.');
    }
  };
}
