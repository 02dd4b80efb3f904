/**
 * What the bench needs from the machine: the fake upstream and a database to run against, CPU
 * placement, and the CPU time and memory of the processes it measures (Linux /proc).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import type Redis from 'ioredis';
import { Client } from 'pg';
import { freePort } from '../test/support/gateway-process';

export const ROOT = resolve(__dirname, '..');

// test/support/test-db.ts would pull in the .sql migrations, which only the bundle can load: the
// bench makes an empty database and lets the gateway migrate it, as it does in production.
export const POSTGRES_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface BenchDatabase {
  url: string;
  query(sql: string): Promise<Array<Record<string, unknown>>>;
  drop(): Promise<void>;
}

async function withClient<T>(url: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

export async function createDatabase(): Promise<BenchDatabase> {
  const name = `llmapi_bench_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  await withClient(POSTGRES_URL, (c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    query: (sql) => withClient(url.toString(), async (c) => (await c.query(sql)).rows),
    drop: async () => {
      await withClient(POSTGRES_URL, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}

/** Runtime settings the image sets with `ENV` in app/Dockerfile that change how the process performs. */
const IMAGE_RUNTIME_ENV = ['NODE_OPTIONS', 'MALLOC_ARENA_MAX'] as const;

/**
 * The runtime settings the image runs the gateway with (`ENV NODE_OPTIONS=…`, `ENV MALLOC_ARENA_MAX=…`
 * in app/Dockerfile), so the bench measures what production runs.
 */
export function imageRuntimeEnv(): Record<string, string> {
  const dockerfile = readFileSync(join(ROOT, 'app/Dockerfile'), 'utf8');
  const out: Record<string, string> = {};
  for (const name of IMAGE_RUNTIME_ENV) {
    const m = new RegExp(`^ENV ${name}=(?:"([^"]*)"|(\\S+))`, 'm').exec(dockerfile);
    if (m) out[name] = m[1] ?? m[2];
  }
  return out;
}

/** CPU placement: `split` keeps the load generator and the fake upstream off the proxy's core. */
export function pinning(): { world: string[]; sut: string[]; pin(pid: number, cpus: string): void; label: string } {
  const mode = process.env.BENCH_PIN ?? 'split';
  let haveTaskset = false;
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' });
    haveTaskset = true;
  } catch {
    // no util-linux taskset
  }
  if (mode === 'off' || !haveTaskset || availableParallelism() < 2) {
    return { world: [], sut: [], pin: () => undefined, label: haveTaskset ? 'off' : 'off (no taskset)' };
  }
  if (mode === 'one') {
    return {
      world: ['taskset', '-c', '0'],
      sut: ['taskset', '-c', '0'],
      pin: (pid) => execFileSync('taskset', ['-a', '-cp', '0', String(pid)], { stdio: 'ignore' }),
      label: 'everything on CPU 0 (no cross-CPU wake-ups)',
    };
  }
  return {
    world: ['taskset', '-c', '0'],
    sut: ['taskset', '-c', '1'],
    pin: (pid, cpus) => execFileSync('taskset', ['-a', '-cp', cpus, String(pid)], { stdio: 'ignore' }),
    label: 'load generator + upstream on CPU 0, proxy under test on CPU 1',
  };
}

const CLOCK_TICKS_PER_S = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** CPU time (user + system) the processes have used so far, µs. */
export function cpuUs(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of stat)
  }
  return (ticks / CLOCK_TICKS_PER_S) * 1e6;
}

/** nginx's worker processes (the master only waits). */
export function childPids(pid: number): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).trim().split('\n').map(Number);
  } catch {
    return [pid];
  }
}

/** Redis's own CPU time so far (INFO cpu), µs: limits and the cache cost the gateway's Redis this much. */
export async function redisCpuUs(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const v = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? 0);
  return (v('used_cpu_sys') + v('used_cpu_user')) * 1e6;
}

/**
 * Commands Redis has run so far, by name (INFO commandstats), without our own INFO calls. Redis
 * counts every client: a shared Redis's other traffic shows up here too (the baselines' rows,
 * which send Redis nothing, show how much).
 */
export async function redisCommands(redis: Redis): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const m of (await redis.info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    if (m[1] !== 'info') out[m[1]] = Number(m[2]);
  }
  return out;
}

/**
 * The Redis commands `requests` sequential calls of `send` cause, per request, by name, watched with
 * MONITOR (on only meanwhile). The Redis is shared, so only the gateway's own are counted: those
 * sent on its connections (found with `ss`), and those a Lua script ran (MONITOR's `lua` source) on
 * the API key's own limiter keys, whose names carry the key's id.
 */
export async function watchRedis(
  redis: Redis,
  gateway: { pid: number; keyId: string },
  requests: number,
  send: () => Promise<void>,
): Promise<{ requests: number; sent: Record<string, number>; inScripts: Record<string, number> }> {
  const redisPort = new URL(REDIS_URL).port || '6379';
  const ss = execFileSync('ss', ['-tnpH', `( dport = :${redisPort} )`], { encoding: 'utf8' });
  const ports = new Set(ss.split('\n').filter((l) => l.includes(`pid=${gateway.pid},`)).map((l) => l.split(/\s+/)[3]));
  const sent: Record<string, number> = {};
  const inScripts: Record<string, number> = {};
  const monitor = await redis.monitor();
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    const name = String(args[0]).toLowerCase();
    if (ports.has(source)) sent[name] = (sent[name] ?? 0) + 1 / requests;
    else if (source === 'lua' && args.some((a) => String(a).includes(gateway.keyId))) inScripts[name] = (inScripts[name] ?? 0) + 1 / requests;
  });
  try {
    for (let i = 0; i < requests; i++) await send();
    await new Promise((r) => setTimeout(r, 300)); // a reconcile may follow the last answer (≤ 100 ms)
  } finally {
    monitor.disconnect();
  }
  return { requests, sent, inScripts };
}

export function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

/** Spawns a TypeScript server script under `wrap` (taskset) and waits for the URL it prints. */
async function startScript(
  wrap: string[],
  script: string,
  env: Record<string, string>,
): Promise<{ url: string; port: number; child: ChildProcess }> {
  const port = await freePort();
  const argv = [...wrap, process.execPath, '--import', 'tsx', join(ROOT, script)];
  const child = spawn(argv[0], argv.slice(1), {
    cwd: ROOT,
    env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((res, rej) => {
    let out = '';
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('\n')) res(out.trim());
    });
    child.once('exit', (code) => rej(new Error(`${script} exited with ${code}`)));
  });
  return { url, port, child };
}

export function startUpstream(wrap: string[]): Promise<{ url: string; port: number; child: ChildProcess }> {
  return startScript(wrap, 'test/support/fake-upstream.ts', {});
}

/** bench/node-proxy.ts in front of the fake upstream: node:http + undici and nothing else. */
export function startNodeProxy(wrap: string[], upstreamPort: number): Promise<{ url: string; port: number; child: ChildProcess }> {
  return startScript(wrap, 'bench/node-proxy.ts', { UPSTREAM: `http://127.0.0.1:${upstreamPort}` });
}

export function gitHead(): string | undefined {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
  } catch {
    return undefined;
  }
}
