import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { resolve } from 'node:path';

/** The bundle the container runs; `npm test` builds it first. */
export const BUNDLE = resolve(__dirname, '../../dist/server.js');

export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => res(port));
    });
  });
}

/** Creates a client key through the admin API; returns its id and the key (shown once). Throws unless 201. */
export async function createKeyVia(gatewayUrl: string, adminKey: string, body: Record<string, unknown> = {}): Promise<{ id: string; key: string }> {
  const res = await fetch(`${gatewayUrl}/admin/keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'test', ...body }),
  });
  if (res.status !== 201) throw new Error(`POST /admin/keys answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as { id: string; key: string };
}

export interface GatewayProcess {
  url: string;
  port: number;
  metricsPort: number;
  child: ChildProcess;
  /** Every line the process wrote to stdout and stderr so far. */
  lines: string[];
  /** Lines parsed as JSON (pino), others skipped. */
  logs(): Array<Record<string, unknown>>;
  /** SIGTERM and wait; resolves with the exit code. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
}

export interface StartOptions {
  env?: Record<string, string | undefined>;
  /** Working directory (DATA_DIR and .env are relative to it). */
  cwd?: string;
  /** Script to run instead of the repo's bundle (the no-node_modules case). */
  script?: string;
  /** Extra CLI arguments. */
  args?: string[];
  /** Node.js flags before the script (e.g. `--cpu-prof`, which NODE_OPTIONS does not allow). */
  nodeArgs?: string[];
  readyTimeoutMs?: number;
}

/**
 * Starts `node dist/server.js` with a clean environment and waits for /health. A port found free can
 * be taken (by another test worker's outgoing connection) before the gateway binds it: on
 * EADDRINUSE it starts again on fresh ports.
 */
export async function startGateway(opts: StartOptions = {}): Promise<GatewayProcess> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(opts);
    } catch (err) {
      if (attempt >= 3 || !String((err as Error).message).includes('EADDRINUSE')) throw err;
    }
  }
}

async function startOnce(opts: StartOptions): Promise<GatewayProcess> {
  const port = await freePort();
  const metricsPort = await freePort();
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/tmp',
    PORT: String(port),
    HOST: '127.0.0.1',
    METRICS_PORT: String(metricsPort),
    LOG_LEVEL: 'info',
  };
  for (const [k, v] of Object.entries(opts.env ?? {})) if (v !== undefined) env[k] = v;
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), opts.script ?? BUNDLE, ...(opts.args ?? [])], {
    cwd: opts.cwd,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const collect = (buf: Buffer) => {
    for (const line of buf.toString('utf8').split('\n')) if (line.trim()) lines.push(line);
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const exited = once(child, 'exit');

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 20_000);
  for (;;) {
    if (child.exitCode !== null) throw new Error(`gateway exited with ${child.exitCode}:\n${lines.join('\n')}`);
    try {
      const res = await fetch(`${url}/health`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`gateway did not become healthy:\n${lines.join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }

  return {
    url,
    port,
    metricsPort,
    child,
    lines,
    logs: () =>
      lines.flatMap((l) => {
        try {
          return [JSON.parse(l) as Record<string, unknown>];
        } catch {
          return [];
        }
      }),
    async stop(signal = 'SIGTERM', timeoutMs = 30_000) {
      if (child.exitCode !== null) return child.exitCode;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const [code] = await exited;
      clearTimeout(timer);
      return code as number | null;
    },
  };
}

/** Runs a one-shot command of the bundle (`migrate`, `keys …`) and returns its output. */
export async function runBundle(args: string[], env: Record<string, string>, cwd?: string) {
  const child = spawn(process.execPath, [BUNDLE, ...args], {
    cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b) => (stdout += b));
  child.stderr.on('data', (b) => (stderr += b));
  const [code] = await once(child, 'exit');
  return { code: code as number, stdout, stderr };
}
