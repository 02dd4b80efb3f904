/**
 * What `npm run bench` concludes: targets as ratios against the baselines measured in the same run
 * (the machine is shared, so absolute times mean little), and the printed table.
 */
import type { LoadResult, TtftSummary } from './measure';

export type TargetName = 'direct' | 'nginx' | 'nodeProxy' | 'gateway' | 'cacheHit';

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
}

export interface Verdict {
  target: string;
  value: string;
  goal: string;
  pass: boolean | undefined;
}

const fmtUs = (us: number | undefined) => (us === undefined || Number.isNaN(us) ? 'n/a' : `${Math.round(us)} µs`);
const fmtPct = (r: number) => `${(r * 100).toFixed(1)} %`;

/** The targets, each as a ratio or a difference against a baseline from the same run. */
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
};

export function formatReport(r: BenchResults): string {
  const directRps = r.runs.direct?.c32?.rps;
  const directP50 = r.runs.direct?.c1?.p50Us;
  const rows: string[][] = [
    ['target', 'req/s @32', 'vs direct', 'p50 @32', 'p99 @32', 'p50 @1', 'p99 @1', '+p50 @1', 'CPU/req', 'Redis/req'],
  ];
  for (const name of ['direct', 'nginx', 'nodeProxy', 'gateway', 'cacheHit'] as TargetName[]) {
    const t = r.runs[name];
    if (!t) {
      rows.push([LABELS[name], name === 'nginx' && r.nginxSkipped ? 'skipped' : 'n/a', '', '', '', '', '', '', '', '']);
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
      name === 'gateway' || name === 'cacheHit' ? fmtUs(median(t.redisUsPerRequest)) : '',
    ]);
  }
  const parts = [table(rows)];

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
  parts.push(mem.join('\n'));

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
