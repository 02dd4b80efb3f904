/**
 * For every target a run misses: the measured reason, from the same run (baselines, CPU per
 * request, and a CPU profile of the gateway under load), and what would close it.
 */
import type { SelfTime } from './profile-summary';
import { median, type BenchResults, type Verdict } from './report';

const us = (n: number | undefined) => (n === undefined || Number.isNaN(n) ? 'n/a' : `${Math.round(n)} µs`);
const pct = (share: number) => `${(share * 100).toFixed(1)} %`;

/** The share of the profile's busy time in the bucket whose name starts with `prefix`. */
function shareOf(breakdown: SelfTime[] | undefined, prefix: string): string {
  const row = breakdown?.find((b) => b.name.startsWith(prefix));
  return row ? pct(row.share) : 'n/a';
}

export function explainMisses(r: BenchResults, missed: Verdict[], breakdown: SelfTime[] | undefined): string {
  if (missed.length === 0) return '';
  const direct = r.runs.direct;
  const nginx = r.runs.nginx;
  const node = r.runs.nodeProxy;
  const gw = r.runs.gateway;
  const hit = r.runs.cacheHit;
  const cpu = (t: typeof gw) => median(t?.cpuUsPerRequest);
  const redis = (t: typeof gw) => median(t?.redisUsPerRequest);
  const added = (t: typeof gw) => (t?.c1 && direct?.c1 ? t.c1.p50Us - direct.c1.p50Us : undefined);

  const parts: string[] = [];
  if (breakdown) {
    parts.push(
      [
        'where the gateway spends its CPU under load (--cpu-prof, 32 connections, share of busy time):',
        ...breakdown.filter((b) => b.share >= 0.005).map((b) => `  ${pct(b.share).padStart(7)}  ${b.name}`),
      ].join('\n'),
    );
  }

  const why: string[] = ['why each miss, and what would close it:'];
  for (const v of missed) {
    if (v.target.startsWith('added p50')) {
      why.push(
        `- ${v.target} (${v.value}): a bare Node.js proxy (node:http in, undici out, nothing else) adds ` +
          `${us(added(node))} on this machine and nginx ${us(added(nginx))}, so the goal is about the price of ` +
          `one Node.js HTTP hop. The gateway's own work (auth, validation, the limit check, accounting, ` +
          `metrics) adds ${us(gw?.c1 && node?.c1 ? gw.c1.p50Us - node.c1.p50Us : undefined)} beyond it. Closing it ` +
          `needs the hot route on raw node:http instead of Fastify's lifecycle and Redis off the request ` +
          `path (per-replica limit leases): every request waits for its limit decision before the upstream call.`,
      );
    } else if (v.target.startsWith('cache-hit')) {
      why.push(
        `- ${v.target} (${v.value}): the fake upstream answers with ${us(cpu(direct))} of CPU per request; a ` +
          `cache hit costs ${us(cpu(hit))} in the gateway and ${us(redis(hit))} in Redis (authenticate, one Redis ` +
          `round trip for the limit check and the cached answer, Fastify's reply). A process that checks a ` +
          `shared limit cannot answer faster than a canned local server; closing it needs hits served from ` +
          `an in-process tier under a leased limit, off Fastify. Against a real model API a hit is still ` +
          `orders of magnitude faster than the upstream.`,
      );
    } else if (v.target.startsWith('gateway req/s vs nginx')) {
      why.push(
        `- ${v.target} (${v.value}): the gateway spends ${us(cpu(gw))} of CPU per request against nginx's ` +
          `${us(cpu(nginx))} and the bare Node proxy's ${us(cpu(node))}` +
          (breakdown
            ? `; garbage collection is ${shareOf(breakdown, 'V8 garbage')} of it and the Redis client ${shareOf(breakdown, 'Redis')}. `
            : '. ') +
          `Fewer per-request allocations (Fastify request/reply objects, header records, the per-request ` +
          `logger) and the raw node:http route would close it; the heap bounds that keep RSS under 150 MB ` +
          `cost some throughput too (BENCH_GATEWAY_NODE_ARGS=--heap-growing-percent=0 shows how much).`,
      );
    } else if (v.target.startsWith('added time-to-first-token')) {
      why.push(
        `- ${v.target} (${v.value}): the first event waits for auth, the limit check (one Redis round ` +
          `trip) and the upstream's headers; see the profile above for where the gateway's time goes.`,
      );
    } else if (v.target.startsWith('gateway RSS') || v.target.startsWith('RSS growth')) {
      why.push(
        `- ${v.target} (${v.value}): V8 grows its heap with the allocation rate; the image caps the young ` +
          `generation (app/Dockerfile) and server.ts bounds old-generation growth. A steady climb over the ` +
          `soak is a leak: compare two heap snapshots (node --heapsnapshot-signal).`,
      );
    } else {
      why.push(`- ${v.target} (${v.value}): see bench/README.md.`);
    }
  }
  parts.push(why.join('\n'));
  if (!breakdown) parts.push('(no profile was taken: BENCH_EXPLAIN=0, or the gateway was not loaded)');
  return parts.join('\n\n');
}
