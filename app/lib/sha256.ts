import * as crypto from 'node:crypto';

/**
 * SHA-256 as lowercase hex. `crypto.hash` (Node ≥ 20.12) hashes in one call without building a Hash
 * stream object, which matters on paths that run on every request (key lookup, cache key).
 */
export const sha256Hex: (data: string) => string =
  typeof crypto.hash === 'function'
    ? (data) => crypto.hash('sha256', data, 'hex')
    : (data) => crypto.createHash('sha256').update(data).digest('hex');
