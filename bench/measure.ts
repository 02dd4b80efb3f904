/**
 * The load generator: autocannon runs and a time-to-first-token probe, executed in a child process
 * of its own (so it can be pinned to a core away from what it measures) and driven over IPC.
 *
 * Latencies come from autocannon's per-response `responseTime` (float ms from hrtime) rather than
 * its histogram, which records whole milliseconds: the targets are stated in microseconds.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';

export interface LoadSpec {
  url: string;
  headers: Record<string, string>;
  body: string;
  connections: number;
  seconds: number;
}

export interface LoadResult {
  /** 2xx answers. */
  requests: number;
  rps: number;
  p50Us: number;
  p99Us: number;
  /** Connection errors, timeouts and non-2xx answers. */
  failures: number;
  seconds: number;
  /** Filled in by the orchestrator: CPU time of the process under test per answer, µs. */
  cpuUsPerRequest?: number;
  /** Filled in by the orchestrator: Redis CPU time per answer, µs. */
  redisUsPerRequest?: number;
}

export interface StreamTarget {
  name: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}

export interface TtftSummary {
  samples: number;
  medianUs: number;
  p90Us: number;
}

/** The p-quantile (0..1) of sorted values, nearest rank. */
export function quantile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return sorted[i];
}

function sortedMicros(ms: number[]): Float64Array {
  return Float64Array.from(ms, (v) => v * 1000).sort();
}

function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const times: number[] = [];
  let failures = 0;
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const instance = autocannon(
      {
        url: spec.url,
        method: 'POST',
        headers: spec.headers,
        body: spec.body,
        connections: spec.connections,
        pipelining: 1,
        duration: spec.seconds,
        timeout: 10,
      },
      (err, result) => {
        if (err) return reject(err);
        const seconds = (performance.now() - started) / 1000;
        const sorted = sortedMicros(times);
        resolve({
          requests: times.length,
          rps: times.length / seconds,
          p50Us: quantile(sorted, 0.5),
          p99Us: quantile(sorted, 0.99),
          failures: failures + result.errors + result.timeouts,
          seconds,
        });
      },
    );
    instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
      if (status >= 200 && status < 300) times.push(ms);
      else failures++;
    });
  });
}

/** One streamed request: microseconds from sending it to the first `data:` bytes of the answer. */
function firstToken(target: StreamTarget, agent: Agent): Promise<number> {
  return new Promise((resolve, reject) => {
    let ttft: number | undefined;
    const headers = { ...target.headers, 'content-length': String(Buffer.byteLength(target.body)) };
    const req = request(target.url, { method: 'POST', headers, agent }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        reject(new Error(`${target.name}: streamed request answered ${res.statusCode}`));
        return;
      }
      res.on('data', (chunk: Buffer) => {
        if (ttft === undefined && chunk.includes('data:')) ttft = (performance.now() - sent) * 1000;
      });
      res.on('end', () => (ttft === undefined ? reject(new Error(`${target.name}: no event`)) : resolve(ttft)));
      res.on('error', reject);
    });
    req.on('error', reject);
    const sent = performance.now();
    req.end(target.body);
  });
}

/** `samples` sequential streamed requests per target, interleaved so drift hits every target alike. */
async function measureTtft(targets: StreamTarget[], samples: number): Promise<Record<string, TtftSummary>> {
  const agents = targets.map(() => new Agent({ keepAlive: true, maxSockets: 1 }));
  const times = targets.map(() => [] as number[]);
  for (let i = 0; i < samples + 20; i++) {
    for (const [t, target] of targets.entries()) {
      const us = await firstToken(target, agents[t]);
      if (i >= 20) times[t].push(us); // the first rounds warm up connections and JIT
    }
  }
  for (const a of agents) a.destroy();
  const out: Record<string, TtftSummary> = {};
  for (const [t, target] of targets.entries()) {
    const sorted = Float64Array.from(times[t]).sort();
    out[target.name] = { samples: sorted.length, medianUs: quantile(sorted, 0.5), p90Us: quantile(sorted, 0.9) };
  }
  return out;
}

type Work = { op: 'load'; spec: LoadSpec } | { op: 'ttft'; targets: StreamTarget[]; samples: number };
type Command = Work & { id: number };

type Reply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: string };

export interface LoadGenerator {
  pid: number;
  load(spec: LoadSpec): Promise<LoadResult>;
  ttft(targets: StreamTarget[], samples: number): Promise<Record<string, TtftSummary>>;
  close(): void;
}

/** Spawns this file as the load-generator process (optionally wrapped, e.g. in `taskset`). */
export function startLoadGenerator(wrap: string[] = []): LoadGenerator {
  const argv = [...wrap, process.execPath, '--import', 'tsx', __filename];
  const child: ChildProcess = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const waiting = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  let next = 0;
  child.on('message', (m: Reply) => {
    const w = waiting.get(m.id);
    waiting.delete(m.id);
    if (m.ok) w?.resolve(m.value);
    else w?.reject(new Error(m.error));
  });
  child.on('exit', (code) => {
    for (const w of waiting.values()) w.reject(new Error(`load generator exited with ${code}`));
    waiting.clear();
  });
  const call = <T>(cmd: Work): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const id = next++;
      waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      child.send({ ...cmd, id });
    });
  return {
    pid: child.pid!,
    load: (spec) => call({ op: 'load', spec }),
    ttft: (targets, samples) => call({ op: 'ttft', targets, samples }),
    close: () => child.kill(),
  };
}

if (require.main === module) {
  process.on('message', (cmd: Command) => {
    const work = cmd.op === 'load' ? runLoad(cmd.spec) : measureTtft(cmd.targets, cmd.samples);
    work.then(
      (value) => process.send!({ id: cmd.id, ok: true, value } satisfies Reply),
      (err: Error) => process.send!({ id: cmd.id, ok: false, error: err.message } satisfies Reply),
    );
  });
  process.on('disconnect', () => process.exit(0));
}
