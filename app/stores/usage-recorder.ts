import type { Db, UsageRecord } from './types';

export interface UsageRecorderOptions {
  db: Pick<Db, 'query'>;
  /** @default 1000 */
  flushIntervalMs?: number;
  /** Rows per INSERT statement. @default 500 */
  maxBatch?: number;
  /** Rows held while Postgres is unreachable; beyond this the oldest are dropped. @default 50000 */
  maxBuffered?: number;
  /** A failed write (rows kept and retried) or rejected rows (dropped, see onDropped). Must not throw. */
  onError: (err: unknown) => void;
  /** Rows given up on: buffer overflow or rows Postgres refuses as invalid. Must not throw. */
  onDropped: (count: number) => void;
  log?: { warn(obj: object, msg: string): void };
  /** Longest wait between retries while Postgres is down. @default 30000 */
  maxBackoffMs?: number;
}

export interface UsageRecorder {
  /** Buffers one row: synchronous, no I/O, never throws. */
  record(r: UsageRecord): void;
  /** Writes everything buffered; never rejects (failures go to onError, rows stay buffered). */
  flush(): Promise<void>;
  /** Stops the timer, then one last flush. */
  close(): Promise<void>;
  /** Rows waiting to be written (including a batch being written). */
  depth(): number;
  /** Rows given up on so far. */
  dropped(): number;
}

const INSERT = `INSERT INTO usage_records
  (key_id, model, prompt_tokens, completion_tokens, cached, status, upstream_ms, total_ms, request_id, created_at)
  SELECT * FROM unnest($1::uuid[], $2::text[], $3::int[], $4::int[], $5::bool[], $6::smallint[],
                       $7::int[], $8::int[], $9::text[], $10::timestamptz[])`;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const INT_MAX = 2_147_483_647;

function int(n: number, max = INT_MAX): number {
  return Number.isFinite(n) ? Math.min(max, Math.max(0, Math.round(n))) : 0;
}

/** SQLSTATE classes 22 (data exception) and 23 (constraint): retrying the same rows cannot succeed. */
function isRowError(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && (code.startsWith('22') || code.startsWith('23'));
}

/**
 * Usage rows leave the request path through this buffer and reach Postgres as one multi-row INSERT
 * (array parameters, so the statement's shape never depends on the batch size) per `maxBatch` rows.
 */
export function createUsageRecorder(opts: UsageRecorderOptions): UsageRecorder {
  const { db, onError, onDropped, log } = opts;
  const flushIntervalMs = opts.flushIntervalMs ?? 1000;
  const maxBatch = opts.maxBatch ?? 500;
  const maxBuffered = Math.max(opts.maxBuffered ?? 50_000, maxBatch);
  const maxBackoffMs = opts.maxBackoffMs ?? 30_000;

  // A queue as array + head index, so dropping or taking from the front is O(1).
  let rows: UsageRecord[] = [];
  let head = 0;
  let inFlight = 0;
  let droppedTotal = 0;
  let running: Promise<void> | null = null;
  let backoffMs = 0;
  let retryAt = 0;
  let closed = false;
  let kickScheduled = false;

  const size = () => rows.length - head;
  // Drops are logged as one line per reason per flush tick, not one per row: a full buffer under
  // load would otherwise write thousands of lines a second.
  const unlogged = new Map<string, number>();

  function logDrops(): void {
    for (const [why, count] of unlogged) log?.warn({ dropped: count, buffered: size() }, `usage rows dropped: ${why}`);
    unlogged.clear();
  }

  function drop(count: number, why: string): void {
    if (count <= 0) return;
    droppedTotal += count;
    unlogged.set(why, (unlogged.get(why) ?? 0) + count);
    try {
      onDropped(count);
    } catch {
      // Counting is best effort; the rows are gone either way.
    }
  }

  function report(err: unknown): void {
    try {
      onError(err);
    } catch {
      // Never let a reporting bug reach the request path or the timer.
    }
  }

  /** Lets go of rows already taken from the front, so written rows can be collected. */
  function compact(): void {
    if (head === rows.length) {
      rows = [];
      head = 0;
    } else if (head > 1024 && head * 2 > rows.length) {
      rows = rows.slice(head);
      head = 0;
    }
  }

  function trim(): void {
    const excess = size() + inFlight - maxBuffered;
    if (excess > 0) {
      const n = Math.min(excess, size());
      head += n;
      drop(n, 'buffer full');
    }
    compact();
  }

  async function drain(): Promise<void> {
    while (size() > 0) {
      const batch = rows.slice(head, head + maxBatch);
      head += batch.length;
      inFlight = batch.length;
      try {
        await db.query(INSERT, [
          batch.map((r) => r.keyId),
          batch.map((r) => String(r.model)),
          batch.map((r) => int(r.promptTokens)),
          batch.map((r) => int(r.completionTokens)),
          batch.map((r) => r.cached === true),
          batch.map((r) => int(r.status, 32_767)),
          batch.map((r) => int(r.upstreamMs)),
          batch.map((r) => int(r.totalMs)),
          batch.map((r) => String(r.requestId)),
          batch.map((r) => (Number.isFinite(r.createdAt?.getTime()) ? r.createdAt : new Date()).toISOString()),
        ]);
        backoffMs = 0;
        retryAt = 0;
      } catch (err) {
        report(err);
        if (isRowError(err)) {
          drop(batch.length, 'rejected by the database');
          continue;
        }
        // Back at the front, oldest first, to be retried after a growing pause.
        rows = batch.concat(rows.slice(head));
        head = 0;
        backoffMs = Math.min(maxBackoffMs, Math.max(flushIntervalMs, backoffMs * 2));
        retryAt = Date.now() + backoffMs;
        log?.warn({ buffered: size(), retryInMs: backoffMs }, 'usage write failed; rows kept for retry');
        return;
      } finally {
        inFlight = 0;
        trim();
      }
    }
  }

  async function flush(): Promise<void> {
    // One write at a time: wait out the current one, then drain whatever is left (possibly nothing).
    while (running) await running;
    running = drain().catch(report);
    try {
      await running;
    } finally {
      running = null;
    }
  }

  /** Timer and full-batch triggers respect the backoff; explicit flush() and close() do not. */
  function kick(): void {
    logDrops();
    if (running || Date.now() < retryAt) return;
    void flush();
  }

  const timer = setInterval(kick, flushIntervalMs);
  timer.unref();

  return {
    record(r: UsageRecord): void {
      try {
        if (!UUID.test(r.keyId)) {
          drop(1, 'key id is not a uuid');
          return;
        }
        rows.push(r);
        trim();
        // A full batch, or any row once closed (no timer left), goes out on the next turn of the loop.
        if ((size() >= maxBatch || closed) && !kickScheduled) {
          kickScheduled = true;
          setImmediate(() => {
            kickScheduled = false;
            kick();
          });
        }
      } catch (err) {
        report(err);
      }
    },
    flush,
    async close(): Promise<void> {
      closed = true;
      clearInterval(timer);
      await flush();
      logDrops();
    },
    depth: () => size() + inFlight,
    dropped: () => droppedTotal,
  };
}
