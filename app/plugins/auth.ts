import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import { ApiError, AuthenticationError } from '../errors';
import type { AuthThrottle } from '../security/auth-throttle';
import { KeyLookupBusyError, type Authenticator } from '../services/authenticator';
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

/** 429 for an address that failed authentication too often: OpenAI's shape, its own code. */
export class AuthThrottledError extends ApiError {
  constructor(retryAfterSeconds: number) {
    super(
      429,
      'Too many failed authentication attempts from your address. Please retry later.',
      'rate_limit_error',
      'auth_throttled',
      null,
      { 'retry-after': String(retryAfterSeconds) },
    );
  }
}

/**
 * The address failures are counted against: the socket's peer, or (TRUST_PROXY_HOPS > 0) the
 * X-Forwarded-For entry the trusted proxies vouch for, which Fastify's `trustProxy` resolves.
 */
function sourceOf(request: FastifyRequest): string {
  return request.ip ?? request.raw.socket.remoteAddress ?? 'unknown';
}

/**
 * Runs `check`; an AuthenticationError it throws counts against the caller's address, and so does
 * an unseen key refused because too many lookups are in flight (a parallel flood).
 */
async function counted<T>(throttle: AuthThrottle, address: string, check: () => Promise<T> | T): Promise<T> {
  try {
    return await check();
  } catch (err) {
    if (err instanceof AuthenticationError || err instanceof KeyLookupBusyError) throttle.failed(address);
    throw err;
  }
}

/**
 * onRequest hook for client routes: resolves the caller's key from the headers alone, before the
 * body is read, or answers 401 — or 429 when the caller's address has failed too often. A key this
 * process already knows is let through even then (checking it costs nothing, and a client sharing
 * an address with an attacker keeps working).
 */
export function requireClientKey(authenticator: Authenticator, throttle: AuthThrottle): onRequestAsyncHookHandler {
  return async function clientKey(request: FastifyRequest, _reply: FastifyReply) {
    const presented = presentedKey(request.headers);
    const address = sourceOf(request);
    const wait = throttle.retryAfter(address);
    if (wait > 0 && !authenticator.knows(presented)) throw new AuthThrottledError(wait);
    const key = await counted(throttle, address, () => authenticator.authenticate(presented));
    request.apiKey = key;
  };
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/**
 * onRequest hook for admin routes: the bearer token must equal ADMIN_API_KEY (compared in constant
 * time over fixed-length digests), checked before the body is read; failures are throttled per
 * address like client keys. Client keys never open these routes; without ADMIN_API_KEY they are shut.
 */
export function requireAdmin(adminKey: string | undefined, throttle: AuthThrottle): onRequestAsyncHookHandler {
  const expected = adminKey ? digest(adminKey) : undefined;
  return async function admin(request: FastifyRequest) {
    const address = sourceOf(request);
    const wait = throttle.retryAfter(address);
    if (wait > 0) throw new AuthThrottledError(wait);
    await counted(throttle, address, () => {
      const auth = request.headers.authorization;
      const token = typeof auth === 'string' && /^bearer /i.test(auth) ? auth.slice(7).trim() : '';
      if (!expected) throw new AuthenticationError('The admin API is disabled: set ADMIN_API_KEY to enable it.');
      if (!token || !timingSafeEqual(digest(token), expected)) {
        throw new AuthenticationError('Incorrect admin API key provided.');
      }
    });
  };
}
