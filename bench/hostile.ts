/**
 * `npm run bench` (last step) or `tsx bench/hostile.ts` alone: legitimate chat traffic measured
 * alone, then again while hostile clients run against the same gateway —
 * - idle sockets: HOSTILE_IDLE_SOCKETS (1000) connections that never send a byte, reopened as the
 *   gateway closes them;
 * - big bodies: a megabyte of empty messages (346,000 of them) in a loop, from a key limited to
 *   5 rpm, and without a key;
 * - key floods: unknown keys in a loop, each from a different forwarded address (a botnet, as far
 *   as a per-address throttle can tell), and wrong admin keys from one address.
 * Target: legitimate requests/s under attack ≥ 80 % of the normal rate, /health p99 < 100 ms.
 * Everything is bounded (connections, concurrency, seconds) and goes to 127.0.0.1 only.
 *
 * Environment: HOSTILE_SECONDS (5, per measurement), HOSTILE_IDLE_SOCKETS (1000), BENCH_PIN as
 * for `npm run bench`.
 */
import { randomBytes } from 'node:crypto';
import { Agent, request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { startGateway } from '../test/support/gateway-process';
import { startLoadGenerator, quantile, type LoadResult } from './measure';
import { createDatabase, pinning, REDIS_URL, ROOT, startUpstream } from './system';

const SECONDS = Number(process.env.HOSTILE_SECONDS ?? 5);
const IDLE_SOCKETS = Number(process.env.HOSTILE_IDLE_SOCKETS ?? 1000);
const LEGIT_CONNECTIONS = 8;
const ADMIN_KEY = `hostile-admin-${randomBytes(8).toString('hex')}`;
const log = (line: string) => process.stdout.write(`bench:hostile: ${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const CHAT = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello in five words.' }] });
/** 1 MB: 346,000 empty messages. */
const NONSENSE = Buffer.from(`{"model":"gpt-4o-mini","messages":[${Array(346_000).fill('{}').join(',')}]}`);

export interface HostileResult {
  normal: LoadResult;
  underAttack: LoadResult;
  ratio: number;
  pass: boolean;
  healthP99Ms: number;
  healthPass: boolean;
  /** Answers the attackers got, by kind and status. */
  attackers: Record<string, Record<string, number>>;
  idleSocketsClosedByGateway: number;
}

interface Attack {
  stop(): Promise<void>;
  counts: Record<string, Record<string, number>>;
  idleClosed(): number;
}

/** One POST/GET over a keep-alive agent; resolves with the status (0 for a connection error). */
function send(
  agent: Agent,
  port: number,
  path: string,
  headers: Record<string, string>,
  body?: Buffer,
  method = body ? 'POST' : 'GET',
): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', () => resolve(0));
    });
    req.on('error', () => resolve(0));
    req.end(body);
  });
}

function startAttack(port: number, limitedKey: string): Attack {
  let running = true;
  const counts: Record<string, Record<string, number>> = {};
  const count = (kind: string, status: number) => {
    counts[kind] ??= {};
    counts[kind][status] = (counts[kind][status] ?? 0) + 1;
  };
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });

  // Idle sockets, reopened as the gateway closes them.
  const sockets = new Set<Socket>();
  let closedByGateway = 0;
  const openIdle = () => {
    if (!running) return;
    const s = connect(port, '127.0.0.1');
    s.on('error', () => undefined);
    s.resume();
    s.once('close', () => {
      sockets.delete(s);
      if (running) {
        closedByGateway++;
        setTimeout(openIdle, 10);
      }
    });
    sockets.add(s);
  };
  for (let i = 0; i < IDLE_SOCKETS; i++) openIdle();

  const loop = async (kind: string, once: () => Promise<number>) => {
    while (running) count(kind, await once());
  };
  const json = { 'content-type': 'application/json' };
  const octet = () => `198.18.${(Math.random() * 255) | 0}.${(Math.random() * 255) | 0}`;
  const loops = [
    ...[0, 1].map(() =>
      loop('big body, 5-rpm key', () =>
        send(agent, port, '/v1/chat/completions', { ...json, authorization: `Bearer ${limitedKey}` }, NONSENSE),
      ),
    ),
    loop('big body, no key', () => send(agent, port, '/v1/chat/completions', json, NONSENSE)),
    ...[0, 1].map(() =>
      loop('unknown key, many addresses', () =>
        send(agent, port, '/v1/models', {
          authorization: `Bearer sk-llm-${randomBytes(18).toString('base64url')}`,
          'x-forwarded-for': octet(),
        }),
      ),
    ),
    loop('wrong admin key, one address', () =>
      send(agent, port, '/admin/keys', { authorization: `Bearer guess-${randomBytes(8).toString('hex')}`, 'x-forwarded-for': '198.51.100.66' }),
    ),
  ];
  return {
    counts,
    idleClosed: () => closedByGateway,
    async stop() {
      running = false;
      await Promise.all(loops);
      for (const s of sockets) s.destroy();
      agent.destroy();
    },
  };
}

/** /health round trips every 20 ms while `during` runs; returns their p99 in ms. */
async function healthWhile(port: number, during: Promise<unknown>): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const times: number[] = [];
  let done = false;
  void during.finally(() => (done = true));
  while (!done) {
    const started = performance.now();
    await send(agent, port, '/health', {});
    times.push(performance.now() - started);
    await sleep(20);
  }
  agent.destroy();
  return quantile(Float64Array.from(times).sort(), 0.99);
}

export async function runHostileBench(): Promise<HostileResult> {
  const cpu = pinning();
  const cleanups: Array<() => unknown> = [];
  try {
    const upstream = await startUpstream(cpu.world);
    cleanups.push(() => upstream.child.kill());
    const database = await createDatabase();
    cleanups.push(() => database.drop());
    const gateway = await startGateway({
      env: {
        DATABASE_URL: database.url,
        REDIS_URL,
        OPENAI_BASE_URL: upstream.url,
        OPENAI_API_KEY: 'vllm-token-hostile-bench',
        ADMIN_API_KEY: ADMIN_KEY,
        LOG_LEVEL: 'warn',
        // The attackers forge X-Forwarded-For; trusting one hop makes each forged address count as
        // its own source, the hardest case for the per-address throttle.
        TRUST_PROXY_HOPS: '1',
        HEADERS_TIMEOUT_MS: '5000',
      },
      cwd: ROOT,
    });
    cleanups.push(() => gateway.stop());
    if (cpu.sut.length) cpu.pin(gateway.child.pid!, '1');
    if (cpu.world.length) cpu.pin(process.pid, '0');
    const loadgen = startLoadGenerator(cpu.world);
    cleanups.push(() => loadgen.close());

    const createKey = async (rpm: number) => {
      const res = await fetch(`${gateway.url}/admin/keys`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: `hostile-${rpm}`, rpm, tpm: 1_000_000_000 }),
      });
      if (res.status !== 201) throw new Error(`creating a key answered ${res.status}: ${await res.text()}`);
      return ((await res.json()) as { key: string }).key;
    };
    const legitKey = await createKey(1_000_000_000);
    const limitedKey = await createKey(5);

    const spec = {
      url: `${gateway.url}/v1/chat/completions`,
      headers: { authorization: `Bearer ${legitKey}`, 'content-type': 'application/json' },
      body: CHAT,
      connections: LEGIT_CONNECTIONS,
      seconds: SECONDS,
    };
    await loadgen.load({ ...spec, seconds: 1 }); // warm-up
    const normal = await loadgen.load(spec);
    log(`normal: ${normal.rps.toFixed(0)} req/s at ${LEGIT_CONNECTIONS} connections`);

    const attack = startAttack(gateway.port, limitedKey);
    await sleep(1000); // the idle sockets are open and the loops running
    const loaded = loadgen.load(spec);
    const healthP99Ms = await healthWhile(gateway.port, loaded);
    const underAttack = await loaded;
    await attack.stop();
    const ratio = underAttack.rps / normal.rps;
    const result: HostileResult = {
      normal,
      underAttack,
      ratio,
      pass: ratio >= 0.8,
      healthP99Ms,
      healthPass: healthP99Ms < 100,
      attackers: attack.counts,
      idleSocketsClosedByGateway: attack.idleClosed(),
    };
    process.stdout.write(`\n${formatHostile(result)}\n`);
    return result;
  } finally {
    for (const fn of cleanups.reverse()) await Promise.resolve(fn()).catch(() => undefined);
  }
}

export function formatHostile(r: HostileResult): string {
  const lines = [
    'Hostile clients (idle sockets, 1 MB bodies, unknown-key and admin-key floods) against legitimate chat traffic',
    `  legitimate req/s: normal ${r.normal.rps.toFixed(0)}, under attack ${r.underAttack.rps.toFixed(0)} ` +
      `(${(r.ratio * 100).toFixed(0)} %, target ≥ 80 %) ${r.pass ? 'PASS' : 'MISS'}`,
    `  legitimate failures under attack: ${r.underAttack.failures}`,
    `  /health p99 under attack: ${r.healthP99Ms.toFixed(1)} ms (target < 100 ms) ${r.healthPass ? 'PASS' : 'MISS'}`,
    `  idle sockets closed by the gateway: ${r.idleSocketsClosedByGateway}`,
    '  attackers got:',
    ...Object.entries(r.attackers).map(
      ([kind, byStatus]) =>
        `    ${kind.padEnd(30)} ${Object.entries(byStatus)
          .map(([s, n]) => `${n} × ${s}`)
          .join(', ')}`,
    ),
  ];
  return lines.join('\n');
}

if (require.main === module) {
  runHostileBench().then(
    (r) => process.exit(r.pass && r.healthPass ? 0 : 1),
    (err: Error) => {
      process.stderr.write(`${err.stack ?? err.message}\n`);
      process.exit(1);
    },
  );
}
