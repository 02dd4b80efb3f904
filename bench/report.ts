/**
 * What `npm run bench` concludes: targets as ratios against the baselines measured in the same run
 * (the machine is shared, so absolute times mean little), and the printed table.
 */
import type { LoadResult, TtftSummary } from './measure';

export type TargetName = 'direct' | 'nginx' | 'nodeProxy' | 'gateway' | 'cacheHit' | 'gatewayBefore' | 'cacheHitBefore';

export interface TargetRuns {
  /** Best of the rounds at one connection (lowest p50): noise on a shared box only ever adds. */
  c1?: LoadResult;
  /** Best of the rounds at 32 connections (highest requests/s). */
  c32?: LoadResult;
  /**
   * CPU time of the process under test per answer at 32 connections, µs, one value per round: the
   * figure least disturbed by neighbours on a shared machine.
   */
  cpuUsPerRequest?: number[];
  /** Redis CPU time per answer at 32 connections, µs, one value per round. */
  redisUsPerRequest?: number[];
  /**
   * Redis commands per answer at 32 connections (INFO commandstats), one value per round. Redis
   * counts the commands a Lua script runs as well as the script call itself.
   */
  redisCommandsPerRequest?: number[];
}

/** Redis commands per request by name, from MONITOR: sent by the gateway, and run inside its scripts. */
export interface RedisSample {
  requests: number;
  sent: Record<string, number>;
  inScripts: Record<string, number>;
}

export interface SoakResult {
  seconds: number;
  rps: number;
  failures: number;
  /** RSS sampled once a second, MB. */
  rssMb: number[];
  /** Mean of the last five samples over the mean of the first five, minus one. */
  growth: number;
}

export interface BenchResults {
  runs: Partial<Record<TargetName, TargetRuns>>;
  ttft: Record<string, TtftSummary>;
  /** Gateway RSS right after the measured rounds, MB. */
  rssAfterLoadMb: number;
  /** Highest gateway RSS seen under load (rounds and soak), MB. */
  rssPeakMb: number;
  soak?: SoakResult;
  nginxSkipped?: string;
  /**
   * With BENCH_BASELINE_BUNDLE: the highest RSS of each gateway during the measured rounds (both
   * sampled at the same moments, after every 32-connection load), MB. The soak loads only the new one.
   */
  rssPeakInRoundsMb?: { gateway: number; gatewayBefore: number };
  /** With BENCH_BASELINE_BUNDLE: each gateway's RSS once started, before any load, MB. */
  rssIdleMb?: { gateway: number; gatewayBefore: number };
  /** Requests each gateway served without Redis (its redis_fallback_total after the rounds). */
  redisFallbacks?: { gateway: number; gatewayBefore?: number };
  /** Each gateway target's Redis commands per request (MONITOR over a few sequential requests). */
  redisSample?: Partial<Record<TargetName, RedisSample>>;
  /** Where the older bundle came from (BENCH_BASELINE_BUNDLE). */
  baselineBundle?: string;
  /** Whether this build's bench key had a dollar budget in the before/after run. */
  budget?: boolean;
}

export interface Verdict {
  target: string;
  value: string;
  goal: string;
  pass: boolean | undefined;
}

const fmtUs = (us: number | undefined) => (us === undefined || Number.isNaN(us) ? 'n/a' : `${Math.round(us)} µs`);
const fmtPct = (r: number) => `${(r * 100).toFixed(1)} %`;

/** The issue's targets, each as a ratio or a difference against a baseline from the same run. */
export function evaluate(r: BenchResults): Verdict[] {
  const gw = r.runs.gateway;
  const direct = r.runs.direct;
  const nginx = r.runs.nginx;
  const hit = r.runs.cacheHit;
  const out: Verdict[] = [];

  if (gw?.c32 && nginx?.c32) {
    const ratio = gw.c32.rps / nginx.c32.rps;
    out.push({ target: 'gateway req/s vs nginx (32 conn)', value: fmtPct(ratio), goal: '≥ 35 %', pass: ratio >= 0.35 });
  } else {
    out.push({ target: 'gateway req/s vs nginx (32 conn)', value: r.nginxSkipped ? 'skipped' : 'n/a', goal: '≥ 35 %', pass: undefined });
  }

  if (gw?.c1 && direct?.c1) {
    const added = gw.c1.p50Us - direct.c1.p50Us;
    out.push({ target: 'added p50 over direct (1 conn)', value: fmtUs(added), goal: '≤ 150 µs', pass: added <= 150 });
  }

  const ttftGw = r.ttft.gateway;
  const ttftDirect = r.ttft.direct;
  if (ttftGw && ttftDirect) {
    const added = ttftGw.medianUs - ttftDirect.medianUs;
    out.push({ target: 'added time-to-first-token (median)', value: fmtUs(added), goal: '≤ 1000 µs', pass: added <= 1000 });
  }

  if (hit?.c32 && direct?.c32) {
    const ratio = hit.c32.rps / direct.c32.rps;
    out.push({ target: 'cache-hit req/s vs direct (32 conn)', value: fmtPct(ratio), goal: '≥ 100 %', pass: ratio >= 1 });
  }

  out.push({ target: 'gateway RSS under load (peak)', value: `${r.rssPeakMb.toFixed(0)} MB`, goal: '≤ 150 MB', pass: r.rssPeakMb <= 150 });
  if (r.soak) {
    out.push({
      target: `RSS growth over ${r.soak.seconds} s soak`,
      value: fmtPct(r.soak.growth),
      goal: '≤ 10 %',
      pass: r.soak.growth <= 0.1,
    });
  }
  return out;
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(rows[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

const LABELS: Record<TargetName, string> = {
  direct: 'upstream direct',
  nginx: 'nginx proxy_pass',
  nodeProxy: 'bare Node proxy (http+undici)',
  gateway: 'gateway (all on, cache off)',
  cacheHit: 'gateway cache hit',
  gatewayBefore: 'gateway BEFORE (all on, cache off)',
  cacheHitBefore: 'gateway BEFORE cache hit',
};

const ORDER: TargetName[] = ['direct', 'nginx', 'nodeProxy', 'gateway', 'cacheHit', 'gatewayBefore', 'cacheHitBefore'];
const isGateway = (name: TargetName) => name === 'gateway' || name === 'cacheHit' || name === 'gatewayBefore' || name === 'cacheHitBefore';

export function formatReport(r: BenchResults): string {
  const directRps = r.runs.direct?.c32?.rps;
  const directP50 = r.runs.direct?.c1?.p50Us;
  const rows: string[][] = [
    ['target', 'req/s @32', 'vs direct', 'p50 @32', 'p99 @32', 'p50 @1', 'p99 @1', '+p50 @1', 'CPU/req', 'Redis/req', 'Redis cmds/req'],
  ];
  for (const name of ORDER) {
    const t = r.runs[name];
    if (!t) {
      if (name.endsWith('Before')) continue; // no BENCH_BASELINE_BUNDLE
      rows.push([LABELS[name], name === 'nginx' && r.nginxSkipped ? 'skipped' : 'n/a', '', '', '', '', '', '', '', '', '']);
      continue;
    }
    rows.push([
      LABELS[name],
      t.c32 ? t.c32.rps.toFixed(0) : 'n/a',
      t.c32 && directRps ? fmtPct(t.c32.rps / directRps) : '',
      fmtUs(t.c32?.p50Us),
      fmtUs(t.c32?.p99Us),
      fmtUs(t.c1?.p50Us),
      fmtUs(t.c1?.p99Us),
      t.c1 && directP50 !== undefined && name !== 'direct' ? fmtUs(t.c1.p50Us - directP50) : '',
      fmtUs(median(t.cpuUsPerRequest)),
      isGateway(name) ? fmtUs(median(t.redisUsPerRequest)) : '',
      fmtCount(median(t.redisCommandsPerRequest)),
    ]);
  }
  const parts = [table(rows)];
  const redis = formatRedisSample(r);
  if (redis) parts.push(redis);

  const ttftRows = [['streaming', 'median TTFT', 'p90 TTFT', 'samples']];
  for (const [name, s] of Object.entries(r.ttft)) ttftRows.push([name, fmtUs(s.medianUs), fmtUs(s.p90Us), String(s.samples)]);
  parts.push(table(ttftRows));

  const mem = [`gateway RSS after load: ${r.rssAfterLoadMb.toFixed(0)} MB, peak ${r.rssPeakMb.toFixed(0)} MB`];
  if (r.soak) {
    mem.push(
      `soak: ${r.soak.seconds} s at 32 conn, ${r.soak.rps.toFixed(0)} req/s, ${r.soak.failures} failures, ` +
        `RSS ${r.soak.rssMb[0]?.toFixed(0)} → ${r.soak.rssMb.at(-1)?.toFixed(0)} MB (growth ${fmtPct(r.soak.growth)})`,
    );
  }
  if (r.nginxSkipped) mem.push(`nginx baseline skipped: ${r.nginxSkipped}`);
  const fallbacks = Object.entries(r.redisFallbacks ?? {}).filter(([, n]) => n > 0);
  if (fallbacks.length) {
    mem.push(
      `WARNING: served without Redis (Redis calls timed out under load): ${fallbacks.map(([g, n]) => `${g} ${n}`).join(', ')}; ` +
        'their CPU/req and Redis figures read low',
    );
  }
  parts.push(mem.join('\n'));

  const before = formatBeforeAfter(r);
  if (before) parts.push(before);

  const verdicts = evaluate(r);
  parts.push(
    table([
      ['target', 'measured', 'goal', 'result'],
      ...verdicts.map((v) => [v.target, v.value, v.goal, v.pass === undefined ? 'SKIP' : v.pass ? 'PASS' : 'MISS']),
    ]),
  );
  const floor = floorNote(r);
  if (floor) parts.push(floor);
  return parts.join('\n\n');
}

/**
 * What any proxy costs on this machine, from the same run: the added p50 of nginx and of a bare
 * Node.js proxy at one connection, and what the gateway adds beyond the bare Node proxy.
 */
function floorNote(r: BenchResults): string | undefined {
  const direct = r.runs.direct?.c1?.p50Us;
  const node = r.runs.nodeProxy?.c1?.p50Us;
  const gw = r.runs.gateway?.c1?.p50Us;
  if (direct === undefined || node === undefined || gw === undefined) return undefined;
  const nginx = r.runs.nginx?.c1?.p50Us;
  const nodeCpu = median(r.runs.nodeProxy?.cpuUsPerRequest);
  const gwCpu = median(r.runs.gateway?.cpuUsPerRequest);
  return [
    'floor (1 connection, p50 over direct):',
    ...(nginx !== undefined ? [`  nginx proxy_pass adds            ${fmtUs(nginx - direct)}`] : []),
    `  bare Node proxy adds             ${fmtUs(node - direct)}`,
    `  gateway adds beyond that         ${fmtUs(gw - node)}`,
    ...(nodeCpu !== undefined && gwCpu !== undefined
      ? [`  CPU/req: gateway ${fmtUs(gwCpu)} vs bare Node proxy ${fmtUs(nodeCpu)}`]
      : []),
  ].join('\n');
}

const fmtCount = (n: number | undefined) => (n === undefined ? 'n/a' : n.toFixed(2));

const sum = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);
/** `evalsha 1.00, get 1.00`, most frequent first. */
const mix = (counts: Record<string, number>) =>
  Object.entries(counts)
    .sort((a, b) => b[1] - a[1])
    .map(([cmd, n]) => `${cmd} ${n.toFixed(2)}`)
    .join(', ') || 'none';

/** What each gateway target asks of Redis per request: commands it sends, and what its scripts run. */
function formatRedisSample(r: BenchResults): string | undefined {
  const names = ORDER.filter((n) => r.redisSample?.[n]);
  if (!names.length) return undefined;
  const rows = [['Redis per request (MONITOR)', 'sent', 'which', 'in scripts', 'which']];
  for (const name of names) {
    const s = r.redisSample![name]!;
    rows.push([LABELS[name], sum(s.sent).toFixed(2), mix(s.sent), sum(s.inScripts).toFixed(2), mix(s.inScripts)]);
  }
  const n = r.redisSample![names[0]]!.requests;
  return `${table(rows)}\n(${n} sequential requests per target; a command sent is a round trip unless pipelined with another)`;
}

/**
 * The gateway against an older build of itself (BENCH_BASELINE_BUNDLE), loaded in the same rounds:
 * CPU per request and RSS may grow at most 10 %; requests/s and p50 are shown for reading.
 */
export function beforeAfter(r: BenchResults): Verdict[] {
  const now = r.runs.gateway;
  const before = r.runs.gatewayBefore;
  if (!now || !before || !r.rssPeakInRoundsMb) return [];
  const cpuNow = median(now.cpuUsPerRequest) ?? Number.NaN;
  const cpuBefore = median(before.cpuUsPerRequest) ?? Number.NaN;
  const { gateway: rssNow, gatewayBefore: rssBefore } = r.rssPeakInRoundsMb;
  return [
    {
      target: 'CPU/req after / before',
      value: `${Math.round(cpuNow)} / ${Math.round(cpuBefore)} µs = ${fmtPct(cpuNow / cpuBefore)}`,
      goal: '≤ 110 %',
      pass: cpuNow <= cpuBefore * 1.1,
    },
    {
      target: 'RSS peak in the rounds after / before',
      value: `${rssNow.toFixed(0)} / ${rssBefore.toFixed(0)} MB = ${fmtPct(rssNow / rssBefore)}`,
      goal: '≤ 110 %',
      pass: rssNow <= rssBefore * 1.1,
    },
  ];
}

function formatBeforeAfter(r: BenchResults): string | undefined {
  const verdicts = beforeAfter(r);
  if (!verdicts.length) return undefined;
  const row = (label: string, name: TargetName, rss: number, rssIdle: number | undefined) => {
    const t = r.runs[name]!;
    return [
      label,
      fmtUs(median(t.cpuUsPerRequest)),
      `${rss.toFixed(0)} MB`,
      rssIdle === undefined ? 'n/a' : `${rssIdle.toFixed(0)} MB`,
      t.c32 ? t.c32.rps.toFixed(0) : 'n/a',
      fmtUs(t.c32?.p50Us),
      fmtUs(t.c1?.p50Us),
      sent(name),
      fmtCount(median(t.redisCommandsPerRequest)),
    ];
  };
  const rss = r.rssPeakInRoundsMb!;
  const idle = r.rssIdleMb;
  const sent = (name: TargetName) => {
    const s = r.redisSample?.[name];
    return s ? sum(s.sent).toFixed(2) : 'n/a';
  };
  const now = r.runs.gateway!;
  const was = r.runs.gatewayBefore!;
  const pct = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? 'n/a' : fmtPct(a / b));
  return [
    `before/after: this build against ${r.baselineBundle}, both loaded in the same rounds, ` +
      (r.budget ? 'this build with a dollar budget, the baseline without (it has none) ' : 'neither with a dollar budget (the baseline has none) ') +
      '(Redis sent/req from MONITOR; Redis cmds/req at 32 connections, script internals included)',
    table([
      ['gateway (cache off)', 'CPU/req', 'RSS peak', 'RSS idle', 'req/s @32', 'p50 @32', 'p50 @1', 'Redis sent/req', 'Redis cmds/req'],
      row('after (this build)', 'gateway', rss.gateway, idle?.gateway),
      row('before (baseline bundle)', 'gatewayBefore', rss.gatewayBefore, idle?.gatewayBefore),
      [
        'after / before',
        pct(median(now.cpuUsPerRequest), median(was.cpuUsPerRequest)),
        pct(rss.gateway, rss.gatewayBefore),
        pct(idle?.gateway, idle?.gatewayBefore),
        pct(now.c32?.rps, was.c32?.rps),
        pct(now.c32?.p50Us, was.c32?.p50Us),
        pct(now.c1?.p50Us, was.c1?.p50Us),
        '',
        '',
      ],
    ]),
    table([
      ['before/after', 'measured', 'goal', 'result'],
      ...verdicts.map((v) => [v.target, v.value, v.goal, v.pass ? 'PASS' : 'MISS']),
    ]),
  ].join('\n\n');
}

export function median(xs: number[] | undefined): number | undefined {
  if (!xs?.length) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Mean of the last five samples over the mean of the first five, minus one. */
export function growth(samples: number[]): number {
  if (samples.length < 2) return 0;
  const n = Math.max(1, Math.min(5, Math.floor(samples.length / 2)));
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  return mean(samples.slice(-n)) / mean(samples.slice(0, n)) - 1;
}
