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

/** Socket errors: the store is not reachable at all. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
]);
/**
 * SQLSTATE: connection exception (08), insufficient resources (53), shutting down (57P01-3),
 * statement timeout (57014).
 */
const SQLSTATE_OUTAGE = /^(08|53|57P0[1-3]$|57014$)/;
/** node-postgres raises these without a code. */
const PG_CONNECTION_MESSAGE = /timeout exceeded when trying to connect|Connection terminated|connection error/i;

/**
 * True when `err` says a store (Postgres, Redis) could not be reached or gave up, rather than that
 * the query was wrong: the caller should retry later (503), and nothing is broken in this process.
 */
/**
 * The month's usage could not be read from Postgres to re-seed a budget counter. Redis itself is
 * fine, so this must not send every key to the fallback limiter.
 */
export class BudgetSourceError extends Error {
  constructor(options?: { cause?: unknown }) {
    super('budget usage unavailable', options);
    this.name = 'BudgetSourceError';
  }
}

export function isStoreOutage(err: unknown): boolean {
  if (err instanceof StoreUnavailableError || err instanceof StoreTimeoutError || err instanceof BudgetSourceError) {
    return true;
  }
  const e = err as { code?: unknown; message?: unknown } | null | undefined;
  if (typeof e?.code === 'string' && (NETWORK_CODES.has(e.code) || SQLSTATE_OUTAGE.test(e.code))) return true;
  return typeof e?.message === 'string' && PG_CONNECTION_MESSAGE.test(e.message);
}
