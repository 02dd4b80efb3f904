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
  // One promise and one timer (no race/finally chain): this wraps every limiter and cache call.
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new StoreTimeoutError(store, ms)), ms);
    timer.unref();
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
