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

/** The row's columns, in the order of the array parameters. */
const COLUMNS = [
  ['key_id', 'uuid'],
  ['model', 'text'],
  ['prompt_tokens', 'int'],
  ['completion_tokens', 'int'],
  ['cached', 'bool'],
  ['status', 'smallint'],
  ['upstream_ms', 'int'],
  ['total_ms', 'int'],
  ['request_id', 'text'],
  ['created_at', 'timestamptz'],
  ['team_id', 'uuid'],
  ['cached_input_tokens', 'int'],
  ['cache_write_tokens', 'int'],
  ['reasoning_tokens', 'int'],
  ['cost_usd', 'numeric'],
  ['estimated', 'bool'],
  ['provider', 'text'],
  ['deployment', 'text'],
  ['surface', 'text'],
] as const;
const NAMES = COLUMNS.map(([name]) => name).join(', ');
const SUMMED = ['prompt_tokens', 'completion_tokens', 'cached_input_tokens', 'cache_write_tokens', 'reasoning_tokens'];

/**
 * One statement per batch: the raw rows, and the daily rollup upserted from the same rows, so the
 * rollup can never disagree with what was inserted (both commit or neither). Rollup rows are
 * touched in a fixed order, so two replicas' batches wait on each other instead of deadlocking.
 */
const INSERT = `WITH r AS (
  SELECT * FROM unnest(${COLUMNS.map(([, type], i) => `$${i + 1}::${type}[]`).join(', ')}) AS t(${NAMES})
), raw AS (
  INSERT INTO usage_records (${NAMES}) SELECT ${NAMES} FROM r
)
INSERT INTO usage_daily AS d (day, key_id, team_id, model, requests, cached_requests, unpriced_requests,
                              ${SUMMED.join(', ')}, cost_usd)
SELECT (created_at AT TIME ZONE 'UTC')::date, key_id, team_id, model, count(*), count(*) FILTER (WHERE cached),
       count(*) FILTER (WHERE cost_usd IS NULL), ${SUMMED.map((c) => `sum(${c})`).join(', ')}, coalesce(sum(cost_usd), 0)
  FROM r
 GROUP BY 1, 2, 3, 4
 ORDER BY 1, 2, 3, 4
ON CONFLICT (day, key_id, (coalesce(team_id, '00000000-0000-0000-0000-000000000000'::uuid)), model) DO UPDATE SET
  ${['requests', 'cached_requests', 'unpriced_requests', ...SUMMED, 'cost_usd'].map((c) => `${c} = d.${c} + EXCLUDED.${c}`).join(', ')}`;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const INT_MAX = 2_147_483_647;

function int(n: number | undefined, max = INT_MAX): number {
  return typeof n === 'number' && Number.isFinite(n) ? Math.min(max, Math.max(0, Math.round(n))) : 0;
}

/** Null for unpriced (and for anything that is not a finite, non-negative number). */
function usd(n: number | null | undefined): number | null {
  return typeof n === 'number' && Number.isFinite(n) && n >= 0 ? n : null;
}

function text(v: string | undefined): string | null {
  return typeof v === 'string' && v !== '' ? v : null;
}

/** SQLSTATE classes 22 (data exception) and 23 (constraint): retrying the same rows cannot succeed. */
function isRowError(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && (code.startsWith('22') || code.startsWith('23'));
}

/**
 * Usage rows leave the request path through this buffer and reach Postgres as one multi-row INSERT
 * (array parameters, so the statement's shape never depends on the batch size) per `maxBatch` rows,
 * which also adds them to the daily rollup (usage_daily).
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
          batch.map((r) => (r.teamId && UUID.test(r.teamId) ? r.teamId : null)),
          batch.map((r) => int(r.cachedInputTokens)),
          batch.map((r) => int(r.cacheWriteTokens)),
          batch.map((r) => int(r.reasoningTokens)),
          batch.map((r) => usd(r.costUsd)),
          batch.map((r) => r.estimated === true),
          batch.map((r) => text(r.provider)),
          batch.map((r) => text(r.deployment)),
          batch.map((r) => text(r.surface)),
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
