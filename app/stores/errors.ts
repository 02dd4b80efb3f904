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
  'ECONNABORTED',
  'ENETDOWN',
  'EHOSTDOWN',
  'EADDRNOTAVAIL',
]);
/**
 * SQLSTATE classes and codes that mean "the database cannot serve now", not "the query is wrong":
 * connection exception (08xxx), insufficient resources (53xxx: 53300 too many connections),
 * object not in prerequisite state (55000: e.g. a database not accepting connections, a standby in
 * recovery), lock not available (55P03), admin/crash shutdown and cannot connect now (57P01-03),
 * database dropped (57P04), statement timeout and query canceled (57014).
 */
const SQLSTATE_OUTAGE = /^(08...|53...|55000|55P03|57P0[1-4]|57014)$/;
/** node-postgres and its pool raise these without a code. */
const PG_CONNECTION_MESSAGE =
  /timeout exceeded when trying to connect|Connection terminated|connection error|Client has encountered a connection error|Client was closed and is not queryable|Cannot use a pool after calling end/i;

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

export function isStoreOutage(err: unknown, depth = 0): boolean {
  if (err instanceof StoreUnavailableError || err instanceof StoreTimeoutError || err instanceof BudgetSourceError) {
    return true;
  }
  const e = err as { code?: unknown; message?: unknown; errors?: unknown; cause?: unknown } | null | undefined;
  if (typeof e?.code === 'string' && (NETWORK_CODES.has(e.code) || SQLSTATE_OUTAGE.test(e.code))) return true;
  if (typeof e?.message === 'string' && PG_CONNECTION_MESSAGE.test(e.message)) return true;
  if (depth >= 3) return false;
  // Connecting to a name with several addresses fails with an AggregateError of one error per
  // address; drivers wrap the socket's error in `cause`.
  if (Array.isArray(e?.errors) && e.errors.some((inner) => isStoreOutage(inner, depth + 1))) return true;
  return e?.cause !== undefined && isStoreOutage(e.cause, depth + 1);
}
