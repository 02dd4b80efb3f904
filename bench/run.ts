/**
 * `npm run bench`: the gateway with every feature on (auth, Redis limits, usage to Postgres,
 * metrics; cache off) side by side with the fake upstream called directly and a bare nginx
 * proxy_pass in front of it, all measured in the same run; prints one table and writes
 * bench/results.json. Load only ever goes to 127.0.0.1, bounded in connections and time.
 *
 * Environment: SOAK_SECONDS (60), BENCH_QUICK=1 (a ~30 s smoke run), BENCH_ROUNDS (3),
 * BENCH_PIN=split|off (split: load generator and fake upstream on CPU 0, the proxy under test on
 * CPU 1), BENCH_LOG_LEVEL (warn), BENCH_INFO_LOG=1 (also measure the gateway at LOG_LEVEL=info),
 * BENCH_PROFILE=1 (gateway under --cpu-prof; profiles and a summary in bench/profiles/),
 * BENCH_TARGETS=gateway,cacheHit (load only these; for profiling one path), BENCH_TTFT_SAMPLES,
 * BENCH_GATEWAY_ENV='NAME=value,…' (extra settings for the gateway, for A/B runs),
 * BENCH_GATEWAY_NODE_ARGS='--flag …' (extra node flags for the gateway, e.g. heap sizing),
 * BENCH_EXPLAIN=0 (when a target is missed, skip the extra profiling pass that explains why),
 * BENCH_HOSTILE=0 (skip the last step: legitimate traffic under hostile clients, bench/hostile.ts),
 * BENCH_BASELINE_BUNDLE=/path/to/older/dist/server.js (also load a gateway built from an older commit,
 * same settings, database and Redis, as targets gatewayBefore and cacheHitBefore, and compare),
 * BENCH_BUDGET=0|1 (the bench key without or with a dollar budget; default: with, except in a
 * before/after run, whose baseline has none),
 * BENCH_ROUTING=0 (skip the in-process routing and translation micro-bench, bench/routing.ts).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { createKeyVia, freePort, startGateway, type GatewayProcess } from '../test/support/gateway-process';
import { startLoadGenerator, type LoadGenerator, type LoadResult, type StreamTarget } from './measure';
import { findOrInstallNginx, startNginx, type NginxProxy } from './nginx';
import { explainMisses } from './explain';
import { runHostileBench, type HostileResult } from './hostile';
import { costBreakdown, readProfile, summarizeProfile } from './profile-summary';
import {
  beforeAfter,
  evaluate,
  formatReport,
  growth,
  type BenchResults,
  type RedisSample,
  type TargetName,
  type TargetRuns,
} from './report';
import { formatRoutingBench, runRoutingBench, type RoutingBenchResult } from './routing';
import {
  REDIS_URL,
  ROOT,
  childPids,
  cpuUs,
  createDatabase,
  gitHead,
  imageRuntimeEnv,
  pinning,
  redisCommands,
  redisCpuUs,
  rssMb,
  startNodeProxy,
  startUpstream,
  watchRedis,
  type BenchDatabase,
} from './system';

const quick = process.env.BENCH_QUICK === '1';
const plan = {
  rounds: Number(process.env.BENCH_ROUNDS ?? (quick ? 1 : 3)),
  c1Seconds: quick ? 1 : 3,
  c32Seconds: quick ? 2 : 5,
  warmupSeconds: quick ? 1 : 2,
  ttftSamples: Number(process.env.BENCH_TTFT_SAMPLES ?? (quick ? 100 : 400)),
  soakSeconds: Number(process.env.SOAK_SECONDS ?? (quick ? 5 : 60)),
  logLevel: process.env.BENCH_LOG_LEVEL ?? 'warn',
  profile: process.env.BENCH_PROFILE === '1',
  infoLog: process.env.BENCH_INFO_LOG === '1',
  /** For profiling one path: only these targets are loaded (the table then has gaps). */
  only: process.env.BENCH_TARGETS?.split(',').filter(Boolean),
  /** An older build of the gateway to compare with (its dist/server.js), or undefined. */
  baselineBundle: process.env.BENCH_BASELINE_BUNDLE || undefined,
  /**
   * The bench key's dollar budget (far out of reach, so every request reserves and settles a cost).
   * Off by default in a before/after run: the baseline has no budgets, and both sides must do the
   * same work for the comparison to measure the code rather than the feature.
   */
  budget: process.env.BENCH_BUDGET ? process.env.BENCH_BUDGET !== '0' : !process.env.BENCH_BASELINE_BUNDLE,
};

const ADMIN_KEY = `bench-admin-${randomBytes(8).toString('hex')}`;
const ADMIN_KEY_BEFORE = `bench-admin-before-${randomBytes(8).toString('hex')}`;
const log = (line: string) => process.stdout.write(`bench: ${line}\n`);

const CHAT = {
  model: 'gpt-4o-mini',
  messages: [
    { role: 'system', content: 'You are a terse assistant.' },
    { role: 'user', content: 'Say hello in five words.' },
  ],
};

async function main(): Promise<void> {
  const cpu = pinning();
  log(`plan: ${JSON.stringify(plan)}; pinning: ${cpu.label}`);
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  const cleanup = async () => {
    for (const fn of cleanups.reverse()) await Promise.resolve(fn()).catch(() => undefined);
  };
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));

  try {
    const upstream = await startUpstream(cpu.world);
    cleanups.push(() => upstream.child.kill());
    log(`fake upstream at ${upstream.url}`);

    const database = await createDatabase();
    cleanups.push(() => database.drop());

    const profileDir = join(ROOT, 'bench/profiles');
    if (plan.profile) mkdirSync(profileDir, { recursive: true });
    const gatewayEnv = (level: string) => ({
      DATABASE_URL: database.url,
      REDIS_URL,
      OPENAI_BASE_URL: upstream.url,
      OPENAI_API_KEY: 'sk-bench-upstream',
      ADMIN_API_KEY: ADMIN_KEY,
      LOG_LEVEL: level,
      ...imageRuntimeEnv(),
      // For A/B runs of one setting: BENCH_GATEWAY_ENV='RATE_LIMIT_EARLY_START=false,…'.
      ...Object.fromEntries(
        (process.env.BENCH_GATEWAY_ENV ?? '').split(',').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
      ),
    });
    // BENCH_GATEWAY_NODE_ARGS='--heap-growing-percent=100 …' for A/B runs of V8 flags.
    const extraNodeArgs = (process.env.BENCH_GATEWAY_NODE_ARGS ?? '').split(' ').filter(Boolean);
    const gateway: GatewayProcess = await startGateway({
      env: gatewayEnv(plan.logLevel),
      cwd: ROOT,
      nodeArgs: [...extraNodeArgs, ...(plan.profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [])],
    });
    cleanups.push(() => gateway.stop());
    const gatewayPid = gateway.child.pid!;
    if (cpu.sut.length) cpu.pin(gatewayPid, '1');
    log(`gateway at ${gateway.url} (pid ${gatewayPid}, LOG_LEVEL=${plan.logLevel}, image env ${JSON.stringify(imageRuntimeEnv())})`);
    // A dollar budget far out of reach: every request reserves and settles its cost in the limiter.
    const { key, id: keyId } = await createKey(gateway.url, ADMIN_KEY, plan.budget ? { monthly_budget_usd: 1_000_000 } : {});

    // The same gateway built from an older commit: same settings, database (its migrations are a
    // prefix of ours, and ours only add tables and nullable or defaulted columns) and Redis; its own
    // admin key and API key (no dollar budget: the older builds have none).
    let before: GatewayProcess | undefined;
    let keyBefore = { key: '', id: '' };
    if (plan.baselineBundle) {
      before = await startGateway({
        env: { ...gatewayEnv(plan.logLevel), ADMIN_API_KEY: ADMIN_KEY_BEFORE },
        cwd: ROOT,
        script: plan.baselineBundle,
        nodeArgs: extraNodeArgs,
      });
      cleanups.push(() => before!.stop());
      if (cpu.sut.length) cpu.pin(before.child.pid!, '1');
      log(`baseline gateway at ${before.url} (pid ${before.child.pid}, ${plan.baselineBundle})`);
      keyBefore = await createKey(before.url, ADMIN_KEY_BEFORE, {});
    }

    let nginx: NginxProxy | undefined;
    const found = findOrInstallNginx(log);
    let nginxSkipped = found.reason;
    if (found.path) {
      try {
        nginx = await startNginx(found.path, await freePort(), upstream.port, cpu.sut);
        cleanups.push(() => nginx!.close());
        log(`nginx at ${nginx.url}`);
      } catch (err) {
        nginxSkipped = `nginx failed to start: ${(err as Error).message}`;
      }
    }
    if (nginxSkipped) log(`SKIPPING the nginx baseline: ${nginxSkipped}`);

    // The floor for any Node.js gateway on this machine: node:http in, undici out, nothing else.
    const nodeProxy = await startNodeProxy(cpu.sut, upstream.port);
    cleanups.push(() => nodeProxy.child.kill());
    log(`bare Node proxy at ${nodeProxy.url}`);

    const redis = new Redis(REDIS_URL, { lazyConnect: false, maxRetriesPerRequest: 1 });
    cleanups.push(() => redis.quit());
    const cpuOf: Record<TargetName, number[]> = {
      direct: [upstream.child.pid!],
      nginx: nginx ? childPids(nginx.pid) : [],
      nodeProxy: [nodeProxy.child.pid!],
      gateway: [gatewayPid],
      cacheHit: [gatewayPid],
      gatewayBefore: before ? [before.child.pid!] : [],
      cacheHitBefore: before ? [before.child.pid!] : [],
    };

    const loadgen: LoadGenerator = startLoadGenerator(cpu.world);
    cleanups.push(() => loadgen.close());

    const body = JSON.stringify(CHAT);
    const plain = { 'content-type': 'application/json', authorization: 'Bearer sk-not-checked' };
    const authed = { 'content-type': 'application/json', authorization: `Bearer ${key}` };
    const allTargets: Array<{ name: TargetName; url: string; headers: Record<string, string>; body: string }> = [
      { name: 'direct', url: `${upstream.url}/chat/completions`, headers: plain, body },
      ...(nginx ? [{ name: 'nginx' as const, url: `${nginx.url}/v1/chat/completions`, headers: plain, body }] : []),
      { name: 'nodeProxy', url: `${nodeProxy.url}/v1/chat/completions`, headers: plain, body },
      { name: 'gateway', url: `${gateway.url}/v1/chat/completions`, headers: authed, body },
      {
        name: 'cacheHit',
        url: `${gateway.url}/v1/chat/completions`,
        headers: authed,
        body: JSON.stringify({ ...CHAT, temperature: 0 }),
      },
    ];
    if (before) {
      const authedBefore = { 'content-type': 'application/json', authorization: `Bearer ${keyBefore.key}` };
      const url = `${before.url}/v1/chat/completions`;
      allTargets.push(
        { name: 'gatewayBefore', url, headers: authedBefore, body },
        { name: 'cacheHitBefore', url, headers: authedBefore, body: JSON.stringify({ ...CHAT, temperature: 0 }) },
      );
    }
    const byName = (n: TargetName) => allTargets.find((t) => t.name === n)!;
    const rssIdleMb = { gateway: rssMb(gatewayPid), gatewayBefore: before ? rssMb(before.child.pid!) : 0 };

    // Every feature must be doing its work, or the numbers flatter the gateway.
    await checkGateway(gateway, byName('gateway'), byName('cacheHit'));
    if (before) await checkGateway(before, byName('gatewayBefore'), byName('cacheHitBefore'));
    const targets = plan.only ? allTargets.filter((t) => plan.only!.includes(t.name)) : allTargets;

    log('warming up');
    for (const t of targets) await loadgen.load({ ...t, connections: 32, seconds: plan.warmupSeconds });

    const runs: Partial<Record<TargetName, TargetRuns>> = {};
    let rssPeakMb = rssMb(gatewayPid);
    // Both gateways sampled at the same moments, so their peaks compare (the soak loads only ours).
    const rssPeakInRoundsMb = { gateway: rssPeakMb, gatewayBefore: before ? rssMb(before.child.pid!) : 0 };
    const better = (a: LoadResult | undefined, b: LoadResult, by: 'rps' | 'p50Us') =>
      !a ? b : by === 'rps' ? (b.rps > a.rps ? b : a) : b.p50Us < a.p50Us ? b : a;
    for (let round = 0; round < plan.rounds; round++) {
      // Alternate the order so slow drift on the shared machine does not favour one target.
      const order = round % 2 === 0 ? targets : [...targets].reverse();
      for (const t of order) {
        const c1 = await loadgen.load({ ...t, connections: 1, seconds: plan.c1Seconds });
        const cpuBefore = cpuUs(cpuOf[t.name]);
        const redisBefore = await redisCpuUs(redis);
        const commandsBefore = await redisCommands(redis);
        const c32: LoadResult = await loadgen.load({ ...t, connections: 32, seconds: plan.c32Seconds });
        c32.cpuUsPerRequest = (cpuUs(cpuOf[t.name]) - cpuBefore) / c32.requests;
        c32.redisUsPerRequest = ((await redisCpuUs(redis)) - redisBefore) / c32.requests;
        const commandsPerRequest = commandsBetween(commandsBefore, await redisCommands(redis)) / c32.requests;
        rssPeakMb = Math.max(rssPeakMb, rssMb(gatewayPid));
        rssPeakInRoundsMb.gateway = Math.max(rssPeakInRoundsMb.gateway, rssMb(gatewayPid));
        if (before) rssPeakInRoundsMb.gatewayBefore = Math.max(rssPeakInRoundsMb.gatewayBefore, rssMb(before.child.pid!));
        for (const r of [c1, c32]) if (r.failures > 0) throw new Error(`${t.name}: ${r.failures} failed requests`);
        const prev = runs[t.name] ?? {};
        runs[t.name] = {
          c1: better(prev.c1, c1, 'p50Us'),
          c32: better(prev.c32, c32, 'rps'),
          cpuUsPerRequest: [...(prev.cpuUsPerRequest ?? []), c32.cpuUsPerRequest],
          redisUsPerRequest: [...(prev.redisUsPerRequest ?? []), c32.redisUsPerRequest],
          redisCommandsPerRequest: [...(prev.redisCommandsPerRequest ?? []), commandsPerRequest],
        };
        log(
          `round ${round + 1} ${t.name}: ${c32.rps.toFixed(0)} req/s @32 (p50 ${c32.p50Us.toFixed(0)} µs, ` +
            `${c32.cpuUsPerRequest.toFixed(0)} µs CPU/req, Redis ${c32.redisUsPerRequest.toFixed(0)} µs and ` +
            `${commandsPerRequest.toFixed(2)} commands/req), ` +
            `p50 ${c1.p50Us.toFixed(0)} µs @1`,
        );
      }
    }
    const rssAfterLoadMb = rssMb(gatewayPid);
    // A Redis call slower than REDIS_COMMAND_TIMEOUT_MS (an overloaded machine) makes a gateway serve
    // without Redis for a second: its CPU and Redis figures then read lower than its real cost.
    const redisFallbacks = {
      gateway: await redisFallbackCount(gateway),
      ...(before ? { gatewayBefore: await redisFallbackCount(before) } : {}),
    };
    log(`requests served without Redis (redis_fallback_total): ${JSON.stringify(redisFallbacks)}`);

    // What each gateway asks of Redis per request: the commands it sends (round trips) and what its
    // Lua scripts run inside Redis. INFO commandstats above counts both together.
    log('Redis commands per request (MONITOR, 200 sequential requests per gateway target)');
    const redisSample: Partial<Record<TargetName, RedisSample>> = {};
    const gatewayTargets: TargetName[] = ['gateway', 'cacheHit', 'gatewayBefore', 'cacheHitBefore'];
    for (const t of targets.filter((x) => gatewayTargets.includes(x.name))) {
      const isBefore = t.name.endsWith('Before');
      const which = isBefore ? { pid: before!.child.pid!, keyId: keyBefore.id } : { pid: gatewayPid, keyId };
      redisSample[t.name] = await watchRedis(redis, which, 200, async () => {
        const res = await fetch(t.url, { method: 'POST', headers: t.headers, body: t.body });
        if (res.status !== 200) throw new Error(`${t.name} answered ${res.status} while Redis was watched`);
        await res.arrayBuffer();
      });
    }

    log('time to first token (sequential streamed requests)');
    const streamBody = JSON.stringify({ ...CHAT, stream: true });
    const streamTargets: StreamTarget[] = [
      { name: 'direct', url: `${upstream.url}/chat/completions`, headers: plain, body: streamBody },
      { name: 'gateway', url: `${gateway.url}/v1/chat/completions`, headers: authed, body: streamBody },
    ];
    const ttft = plan.ttftSamples > 0 ? await loadgen.ttft(streamTargets, plan.ttftSamples) : {};

    let soak: BenchResults['soak'];
    if (plan.soakSeconds > 0) {
      log(`soak: ${plan.soakSeconds} s at 32 connections`);
      const gw = allTargets.find((t) => t.name === 'gateway')!;
      const samples: number[] = [];
      const sampler = setInterval(() => samples.push(rssMb(gatewayPid)), 1000);
      const r = await loadgen.load({ ...gw, connections: 32, seconds: plan.soakSeconds });
      clearInterval(sampler);
      rssPeakMb = Math.max(rssPeakMb, ...samples);
      soak = { seconds: plan.soakSeconds, rps: r.rps, failures: r.failures, rssMb: samples, growth: growth(samples) };
    }

    const usageRows = await countUsageRows(database);
    if (usageRows === 0) throw new Error('no usage rows reached Postgres');
    log(`usage rows written to Postgres: ${usageRows}`);

    const results: BenchResults = {
      runs,
      ttft,
      rssAfterLoadMb,
      rssPeakMb,
      soak,
      nginxSkipped,
      redisSample,
      redisFallbacks,
      ...(before ? { rssPeakInRoundsMb, rssIdleMb, baselineBundle: plan.baselineBundle, budget: plan.budget } : {}),
    };

    let infoLevel: { rps32: number; p50c1Us: number } | undefined;
    if (plan.infoLog) {
      // The access log at info writes one line per request; measured apart, as its own row.
      await gateway.stop();
      const g2 = await startGateway({ env: gatewayEnv('info'), cwd: ROOT });
      cleanups.push(() => g2.stop());
      if (cpu.sut.length) cpu.pin(g2.child.pid!, '1');
      const t = { ...allTargets.find((x) => x.name === 'gateway')!, url: `${g2.url}/v1/chat/completions` };
      await loadgen.load({ ...t, connections: 32, seconds: plan.warmupSeconds });
      const c1 = await loadgen.load({ ...t, connections: 1, seconds: plan.c1Seconds });
      const c32 = await loadgen.load({ ...t, connections: 32, seconds: plan.c32Seconds });
      infoLevel = { rps32: c32.rps, p50c1Us: c1.p50Us };
    }

    // A second gateway, loaded like the first under --cpu-prof; returns its profile's path.
    async function profileUnderLoad(): Promise<string | undefined> {
      const dir = mkdtempSync(join(tmpdir(), 'llmapi-bench-profile-'));
      const g = await startGateway({
        env: gatewayEnv(plan.logLevel),
        cwd: ROOT,
        nodeArgs: [...extraNodeArgs, '--cpu-prof', `--cpu-prof-dir=${dir}`],
      });
      try {
        if (cpu.sut.length) cpu.pin(g.child.pid!, '1');
        const t = { ...allTargets.find((x) => x.name === 'gateway')!, url: `${g.url}/v1/chat/completions` };
        await loadgen.load({ ...t, connections: 32, seconds: plan.warmupSeconds + plan.c32Seconds });
      } finally {
        await g.stop();
      }
      const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
      return file ? join(dir, file) : undefined;
    }

    // A target missed: a profile of the gateway under the same load says where its time goes.
    const missed = evaluate(results).filter((v) => v.pass === false);
    let explainProfile: string | undefined;
    if (missed.length && !plan.profile && runs.gateway?.c32 && process.env.BENCH_EXPLAIN !== '0') {
      log('a target was missed: profiling a second gateway under the same load (--cpu-prof) to show why');
      explainProfile = await profileUnderLoad().catch((err: Error) => {
        log(`profiling pass failed, the explanation goes without it: ${err.message}`);
        return undefined;
      });
    }
    process.stdout.write(`\n${formatReport(results)}\n`);
    if (plan.profile) process.stdout.write('\n(the gateway ran under --cpu-prof: its figures are not comparable)\n');
    if (infoLevel) {
      process.stdout.write(
        `\nLOG_LEVEL=info (access log on): ${infoLevel.rps32.toFixed(0)} req/s @32 ` +
          `(${((infoLevel.rps32 / (runs.gateway?.c32?.rps ?? Number.NaN)) * 100).toFixed(0)} % of warn), ` +
          `p50 @1 ${infoLevel.p50c1Us.toFixed(0)} µs\n`,
      );
    }

    await cleanup();
    cleanups.length = 0;

    // In process, once nothing else of ours runs: what routing and translation cost per request.
    let routing: RoutingBenchResult | undefined;
    if (process.env.BENCH_ROUTING !== '0') {
      log('routing and translation, in process (bench/routing.ts)');
      routing = await runRoutingBench({ quick });
      process.stdout.write(`\n${formatRoutingBench(routing)}\n\n`);
    }

    // Last, on a gateway of its own: legitimate traffic while hostile clients run (bench/hostile.ts).
    let hostile: HostileResult | undefined;
    if (process.env.BENCH_HOSTILE !== '0') {
      log('hostile clients: idle sockets, 1 MB bodies, key floods against legitimate traffic');
      hostile = await runHostileBench();
    }

    let profile: string | undefined;
    if (plan.profile) {
      const files = readdirSync(profileDir).filter((f) => f.endsWith('.cpuprofile')).sort();
      if (files.length) {
        const latest = join(profileDir, files.at(-1)!);
        profile = summarizeProfile(latest, 25);
        writeFileSync(`${latest}.txt`, profile);
        process.stdout.write(`\nCPU profile (gateway, self time) ${latest}:\n${profile}\n`);
        explainProfile = latest;
      }
    }
    const breakdown = explainProfile ? costBreakdown(readProfile(explainProfile)) : undefined;
    if (missed.length) process.stdout.write(`\n${explainMisses(results, missed, breakdown)}\n`);

    const out = {
      when: new Date().toISOString(),
      commit: gitHead(),
      node: process.version,
      cpus: availableParallelism(),
      pinning: cpu.label,
      plan,
      ...results,
      usageRows,
      infoLevel,
      missed: missed.map((v) => v.target),
      beforeAfter: beforeAfter(results),
      routing,
      cpuBreakdown: breakdown,
      hostile,
    };
    writeFileSync(join(ROOT, 'bench/results.json'), `${JSON.stringify(out, null, 2)}\n`);
    log('wrote bench/results.json');
  } catch (err) {
    await cleanup();
    throw err;
  }
}

type Target = { url: string; headers: Record<string, string>; body: string };

/** Auth, limits and the cache answer as configured before anything is measured. */
async function checkGateway(gateway: GatewayProcess, plain: Target, cacheHit: Target): Promise<void> {
  const post = (t: Target) => fetch(t.url, { method: 'POST', headers: t.headers, body: t.body });
  const unauth = await post({ ...plain, headers: { 'content-type': 'application/json' } });
  if (unauth.status !== 401) throw new Error(`gateway without a key answered ${unauth.status}, not 401`);
  const miss = await post(plain);
  if (miss.status !== 200 || miss.headers.get('x-cache') !== 'BYPASS' || !miss.headers.get('x-ratelimit-limit-requests')) {
    throw new Error(`gateway answered ${miss.status} x-cache=${miss.headers.get('x-cache')}: expected 200 BYPASS with limits`);
  }
  await post(cacheHit);
  const hit = await post(cacheHit);
  if (hit.headers.get('x-cache') !== 'HIT') throw new Error(`cache-hit target answered x-cache=${hit.headers.get('x-cache')}`);
  const metrics = await fetch(`http://127.0.0.1:${gateway.metricsPort}/metrics`).catch(() => undefined);
  if (!metrics?.ok) throw new Error(`metrics are not served on METRICS_PORT (${metrics?.status ?? 'no answer'})`);
  log(`checked ${gateway.url}: 401 without a key, BYPASS with rate-limit headers, HIT on repeat, metrics served`);
}

/** The gateway's redis_fallback_total (limiter and cache), from its metrics port. */
async function redisFallbackCount(gateway: GatewayProcess): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${gateway.metricsPort}/metrics`)).text();
  let n = 0;
  for (const m of text.matchAll(/^redis_fallback_total(?:\{[^}]*\})? (\d+)/gm)) n += Number(m[1]);
  return n;
}

/** Commands Redis ran between two INFO commandstats readings. */
function commandsBetween(before: Record<string, number>, after: Record<string, number>): number {
  let n = 0;
  for (const [cmd, calls] of Object.entries(after)) n += calls - (before[cmd] ?? 0);
  return n;
}

/** A key with limits far above anything the bench can reach, through the admin API. */
function createKey(gatewayUrl: string, adminKey: string, extra: Record<string, unknown>): Promise<{ key: string; id: string }> {
  return createKeyVia(gatewayUrl, adminKey, { name: 'bench', rpm: 1_000_000_000, tpm: 1_000_000_000, ...extra });
}

async function countUsageRows(database: BenchDatabase): Promise<number> {
  // The recorder flushes every second; give the last batch time to land.
  await new Promise((r) => setTimeout(r, 1500));
  const rows = await database.query('SELECT count(*) AS n FROM usage_records');
  return Number(rows[0].n);
}

main().catch((err: Error) => {
  process.stderr.write(`bench failed: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
