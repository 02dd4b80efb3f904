import type { UsageQuery } from './usage-query';

export interface RetentionOptions {
  query: Pick<UsageQuery, 'deleteOlderThan'> & Partial<Pick<UsageQuery, 'deleteRollupsOlderThan'>>;
  /** USAGE_RETENTION_DAYS: raw rows. @default 90 */
  days?: number;
  /** USAGE_ROLLUP_RETENTION_DAYS: daily rollups, kept longer than the rows they sum. @default 800 */
  rollupDays?: number;
  /** @default 6 hours */
  intervalMs?: number;
  /** First sweep after this long, so replicas booting together do not all delete at once. @default random up to 60 s */
  initialDelayMs?: number;
  onError: (err: unknown) => void;
  onDeleted?: (count: number) => void;
}

export interface Retention {
  /** One sweep now (skipped while another is running); resolves with the rows deleted. */
  runOnce(): Promise<number>;
  /** Stops the timer and waits for a sweep in progress. */
  stop(): Promise<void>;
}

/**
 * Periodically deletes usage rows past the retention period, and rollup rows past theirs. Every replica may run it: the deletes
 * are idempotent, and batched so two replicas overlapping only share the work.
 */
export function startRetention(opts: RetentionOptions): Retention {
  const days = opts.days ?? 90;
  const rollupDays = opts.rollupDays ?? 800;
  const intervalMs = opts.intervalMs ?? 6 * 3600 * 1000;
  let running: Promise<number> | null = null;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  function runOnce(): Promise<number> {
    if (running) return running;
    const { query } = opts;
    running = query
      .deleteOlderThan(days)
      .then(async (n) => n + ((await query.deleteRollupsOlderThan?.(rollupDays)) ?? 0))
      .then((n) => {
        if (n > 0) opts.onDeleted?.(n);
        return n;
      })
      .catch((err) => {
        opts.onError(err);
        return 0;
      })
      .finally(() => {
        running = null;
      });
    return running;
  }

  function schedule(delayMs: number): void {
    if (stopped) return;
    timer = setTimeout(() => {
      void runOnce().then(() => schedule(intervalMs));
    }, delayMs);
    timer.unref();
  }

  schedule(opts.initialDelayMs ?? Math.floor(Math.random() * 60_000));

  return {
    runOnce,
    async stop(): Promise<void> {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
