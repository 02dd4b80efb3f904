import { StoreTimeoutError } from './errors';

/**
 * Runs `fn` but gives up after `ms`. The client's own command timeout should fire first; this is
 * the backstop for whatever it does not cover (a hung connect, a Postgres seed behind a script).
 */
export function withTimeout<T>(fn: () => Promise<T>, ms: number, store: string): Promise<T> {
  let work: Promise<T>;
  try {
    work = fn();
  } catch (err) {
    return Promise.reject(err);
  }
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StoreTimeoutError(store, ms)), ms);
    timer.unref();
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}
