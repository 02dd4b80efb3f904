/**
 * Polls a freshly deployed gateway: `GET /health` until 200, then `GET /ready` until 200, all
 * within one deadline. Used by scripts/deploy.ts; also runnable on its own:
 *
 *   npx tsx scripts/smoke-check.ts https://llm.example.com [--timeout-ms 600000] [--interval-ms 5000]
 */

export interface SmokeCheckOptions {
  /** Base URL of the API, e.g. `http://llm-api-dev-123.us-east-1.elb.amazonaws.com`. */
  readonly baseUrl: string;
  /**
   * Deadline for all paths together.
   * @default 600000 (10 minutes: a first deploy waits for migrations and target registration)
   */
  readonly timeoutMs?: number;
  /**
   * Pause between attempts.
   * @default 5000
   */
  readonly intervalMs?: number;
  /**
   * Abort a single request after this long.
   * @default 5000
   */
  readonly requestTimeoutMs?: number;
  /**
   * Paths that must answer 200, in order.
   * @default ['/health', '/ready']
   */
  readonly paths?: readonly string[];
  /**
   * @default globalThis.fetch
   */
  readonly fetch?: typeof fetch;
  /**
   * Progress lines.
   * @default - silent
   */
  readonly log?: (line: string) => void;
}

export interface PathResult {
  readonly path: string;
  readonly attempts: number;
  readonly elapsedMs: number;
}

export interface SmokeCheckResult {
  readonly baseUrl: string;
  readonly elapsedMs: number;
  readonly paths: PathResult[];
}

export class SmokeCheckError extends Error {
  constructor(
    message: string,
    /** The path that never answered 200. */
    public readonly path: string,
    /** What the last attempt got: `HTTP 503 …` or the network error. */
    public readonly lastOutcome: string,
  ) {
    super(message);
    this.name = 'SmokeCheckError';
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Resolves when every path answered 200; rejects with a `SmokeCheckError` at the deadline. */
export async function smokeCheck(options: SmokeCheckOptions): Promise<SmokeCheckResult> {
  const timeoutMs = options.timeoutMs ?? 600_000;
  const intervalMs = options.intervalMs ?? 5_000;
  const requestTimeoutMs = options.requestTimeoutMs ?? 5_000;
  const doFetch = options.fetch ?? globalThis.fetch;
  const log = options.log ?? (() => {});
  const base = options.baseUrl.replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]+/.test(base)) {
    throw new Error(`smoke check: baseUrl "${options.baseUrl}" must be an http(s) URL`);
  }

  const started = Date.now();
  const deadline = started + timeoutMs;
  const results: PathResult[] = [];

  for (const path of options.paths ?? ['/health', '/ready']) {
    const url = `${base}${path}`;
    const pathStarted = Date.now();
    let attempts = 0;
    let lastOutcome = 'no attempt';
    for (;;) {
      attempts++;
      const remaining = deadline - Date.now();
      try {
        const res = await doFetch(url, {
          signal: AbortSignal.timeout(Math.max(1, Math.min(requestTimeoutMs, remaining))),
          headers: { accept: 'application/json' },
        });
        const body = (await res.text()).slice(0, 200);
        if (res.status === 200) {
          log(`GET ${url} -> 200 after ${attempts} attempt(s)`);
          break;
        }
        lastOutcome = `HTTP ${res.status} ${body}`.trim();
      } catch (err) {
        lastOutcome = describe(err);
      }
      log(`GET ${url} -> ${lastOutcome}; retrying`);
      if (Date.now() + intervalMs >= deadline) {
        throw new SmokeCheckError(
          `smoke check failed: GET ${url} did not answer 200 within ${timeoutMs} ms (${attempts} attempts; last: ${lastOutcome})`,
          path,
          lastOutcome,
        );
      }
      await sleep(intervalMs);
    }
    results.push({ path, attempts, elapsedMs: Date.now() - pathStarted });
  }
  return { baseUrl: base, elapsedMs: Date.now() - started, paths: results };
}

// Duck-typed: fetch rejects with DOMException or TypeError, possibly from another realm.
function describe(err: unknown): string {
  if (typeof err !== 'object' || err === null) return String(err);
  const { name, message, cause } = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (name === 'TimeoutError' || name === 'AbortError') return 'request timed out';
  return cause?.code ?? cause?.message ?? message ?? String(err);
}

function flag(args: string[], name: string): number | undefined {
  const i = args.indexOf(name);
  if (i === -1) return undefined;
  const value = Number(args[i + 1]);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} needs a positive number of milliseconds`);
  return value;
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const baseUrl = args.find((a) => /^https?:\/\//.test(a));
  if (!baseUrl) {
    console.error('usage: npx tsx scripts/smoke-check.ts URL [--timeout-ms N] [--interval-ms N]');
    process.exit(2);
  }
  smokeCheck({
    baseUrl,
    timeoutMs: flag(args, '--timeout-ms'),
    intervalMs: flag(args, '--interval-ms'),
    log: (line) => console.log(line),
  }).then(
    (result) => console.log(`smoke check passed for ${result.baseUrl} in ${result.elapsedMs} ms`),
    (err: Error) => {
      console.error(err.message);
      process.exit(1);
    },
  );
}
