/**
 * Errors the stores raise to the HTTP layer. They carry no driver message in `message`, so a 5xx
 * built from one cannot leak hostnames or addresses; the original error stays on `cause` for logs.
 */

/** The shared store (Redis) could not answer and the caller chose not to fall back. */
export class StoreUnavailableError extends Error {
  readonly store: string;
  constructor(store: string, options?: { cause?: unknown }) {
    super(`${store} unavailable`, options);
    this.name = 'StoreUnavailableError';
    this.store = store;
  }
}

/** A store call outlived its hard deadline; the call itself may still finish in the background. */
export class StoreTimeoutError extends Error {
  readonly store: string;
  readonly timeoutMs: number;
  constructor(store: string, timeoutMs: number) {
    super(`${store} did not answer within ${timeoutMs} ms`);
    this.name = 'StoreTimeoutError';
    this.store = store;
    this.timeoutMs = timeoutMs;
  }
}
