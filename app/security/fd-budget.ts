/**
 * Every connection is a file descriptor, and so is every upstream socket, pooled database
 * connection and Redis connection. A connection cap above what the process may open lets idle
 * sockets take the descriptors upstream calls need (every chat request then fails while /health
 * still answers), so the cap is held below the process's limit, with room for everything else.
 */

import { hardLimit } from './connections';

/** The soft "Max open files" limit from /proc/self/limits text, or undefined if not stated. */
export function openFileLimit(limitsText: string): number | undefined {
  const line = limitsText.split('\n').find((l) => l.startsWith('Max open files'));
  const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0];
  if (!soft || soft === 'unlimited') return undefined;
  const n = Number(soft);
  return Number.isFinite(n) && n > 0 ? n : undefined;
}

export interface FdBudget {
  /** The connection cap to use. */
  maxConnections: number;
  /** Set when the configured cap had to be lowered: what to tell the operator. */
  lowered?: string;
}

/**
 * The largest connection cap whose accept-time hard limit (`hardLimit`) still leaves descriptors for the
 * upstream pool, the database pool and a reserve (Redis, files, the metrics listener).
 */
export function fitConnectionCap(opts: {
  configured: number;
  fileLimit: number | undefined;
  upstreamConnections: number;
  databasePool: number;
  reserve?: number;
}): FdBudget {
  if (opts.fileLimit === undefined) return { maxConnections: opts.configured };
  const others = opts.upstreamConnections + opts.databasePool + (opts.reserve ?? 64);
  const available = opts.fileLimit - others;
  if (hardLimit(opts.configured) <= available) return { maxConnections: opts.configured };
  let fits = Math.floor(available / 1.1);
  while (fits > 1 && hardLimit(fits) > available) fits--;
  const maxConnections = Math.max(1, fits);
  return {
    maxConnections,
    lowered:
      `MAX_CONNECTIONS=${opts.configured} does not fit the process's open-file limit of ${opts.fileLimit} ` +
      `(upstream ${opts.upstreamConnections} + database ${opts.databasePool} + reserve need the rest): using ${maxConnections}. ` +
      'Raise the limit (ulimit -n / the task definition\'s nofile) or lower MAX_CONNECTIONS.',
  };
}
