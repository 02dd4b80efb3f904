import type { Logger } from 'pino';

/**
 * A warn-level reporter for errors that can repeat thousands of times a second (Redis down, a
 * database outage): the first one is logged at once, then at most one line per interval with a count.
 */
export function throttled(logger: Pick<Logger, 'warn'>, message: string, intervalMs = 10_000): (err: unknown) => void {
  let last = 0;
  let suppressed = 0;
  return (err: unknown) => {
    const now = Date.now();
    if (now - last < intervalMs) {
      suppressed++;
      return;
    }
    last = now;
    const e = err as { message?: string; code?: string; name?: string } | undefined;
    logger.warn({ err: { name: e?.name, code: e?.code, message: e?.message }, suppressed }, message);
    suppressed = 0;
  };
}
