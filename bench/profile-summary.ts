/**
 * Reads a V8 .cpuprofile (`node --cpu-prof`) and prints self time per function and per source file
 * or package, mapped back through the bundle's source map, so a profile can be read without a
 * browser. `tsx bench/profile-summary.ts FILE.cpuprofile [TOP]`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTime {
  name: string;
  ms: number;
  share: number;
}

function loadMaps(): (url: string) => SourceMap | undefined {
  const maps = new Map<string, SourceMap | undefined>();
  return (url) => {
    if (!maps.has(url)) {
      let map: SourceMap | undefined;
      try {
        const path = url.startsWith('file://') ? fileURLToPath(url) : url;
        if (existsSync(`${path}.map`)) map = new SourceMap(JSON.parse(readFileSync(`${path}.map`, 'utf8')));
      } catch {
        map = undefined;
      }
      maps.set(url, map);
    }
    return maps.get(url);
  };
}

/** `app/services/chat.ts`, `fastify` (a package), `node:internal/…`, or `(garbage collector)`. */
function origin(source: string): string {
  const nm = source.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = source.slice(nm + 'node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  const app = source.indexOf('app/');
  return app >= 0 ? source.slice(app) : source;
}

function selfTimesDetailed(profile: Profile) {
  const mapFor = loadMaps();
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const perNode = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    perNode.set(profile.samples[i], (perNode.get(profile.samples[i]) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const detailed: Array<{ where: string; fn: string; line: number | undefined; ms: number }> = [];
  let total = 0;
  for (const [id, us] of perNode) {
    const { functionName, url, lineNumber, columnNumber } = nodes.get(id)!.callFrame;
    total += us;
    let source = url || functionName;
    let line = lineNumber + 1;
    const map = url ? mapFor(url) : undefined;
    const entry = map?.findEntry(lineNumber, columnNumber) as { originalSource?: string; originalLine?: number } | undefined;
    if (entry?.originalSource) {
      source = entry.originalSource;
      line = (entry.originalLine ?? 0) + 1;
    }
    const where = origin(source);
    detailed.push({ where, fn: functionName || '(anonymous)', line: url ? line : undefined, ms: us / 1000 });
  }
  return { byOriginAndFunction: detailed, totalMs: total / 1000 };
}

export function selfTimes(profile: Profile): { byFunction: SelfTime[]; byOrigin: SelfTime[]; totalMs: number } {
  const { byOriginAndFunction, totalMs } = selfTimesDetailed(profile);
  const byFunction = new Map<string, number>();
  const byOrigin = new Map<string, number>();
  for (const { where, fn, line, ms } of byOriginAndFunction) {
    const name = `${fn}  ${line !== undefined ? `${where}:${line}` : ''}`.trim();
    byFunction.set(name, (byFunction.get(name) ?? 0) + ms);
    byOrigin.set(where, (byOrigin.get(where) ?? 0) + ms);
  }
  const sorted = (m: Map<string, number>) =>
    [...m.entries()]
      .map(([name, ms]) => ({ name, ms, share: totalMs ? ms / totalMs : 0 }))
      .sort((a, b) => b.ms - a.ms);
  return { byFunction: sorted(byFunction), byOrigin: sorted(byOrigin), totalMs };
}

/** Buckets for a profile's busy time, by where a function lives (`origin`) and its name. */
const CATEGORIES: Array<[string, (where: string, fn: string) => boolean]> = [
  ['V8 garbage collection', (w) => w === '(garbage collector)'],
  ['socket writes (syscalls)', (w, fn) => w === fn && /^(writev|writeUtf8String|writeBuffer|writeLatin1String)$/.test(fn)],
  ['Fastify (routing, hooks, body parsing, reply)', (w) => /^(fastify|find-my-way|avvio|secure-json-parse|fast-json-stringify|@fastify\/|fast-querystring|fast-decode-uri-component)/.test(w)],
  ['Redis client (ioredis)', (w) => /^(ioredis|redis-parser|standard-as-callback|denque|cluster-key-slot)$/.test(w)],
  ['upstream HTTP client (undici)', (w) => w === 'undici' || w.startsWith('wasm://')],
  ['Postgres client (usage batches)', (w) => /^pg(-pool|-protocol|-types)?$/.test(w)],
  ['request validation (zod)', (w) => w === 'zod'],
  ['logging (pino)', (w) => /^(pino|sonic-boom|thread-stream)/.test(w)],
  ['metrics (prom-client)', (w) => w === 'prom-client'],
  ["the gateway's own code (app/)", (w) => w.startsWith('app/')],
  ['Node.js runtime (HTTP parsing, streams, timers, promises)', (w, fn) => w.startsWith('node:') || /^\((program|root)\)$|^runMicrotasks$/.test(fn)],
];

/** Where a profile's busy time went, in the few buckets a reader can act on (share of busy time). */
export function costBreakdown(profile: Profile): SelfTime[] {
  const { byOriginAndFunction } = selfTimesDetailed(profile);
  const buckets = new Map<string, number>();
  let busy = 0;
  for (const { where, fn, ms } of byOriginAndFunction) {
    if (fn === '(idle)') continue;
    busy += ms;
    const name = CATEGORIES.find(([, match]) => match(where, fn))?.[0] ?? 'other';
    buckets.set(name, (buckets.get(name) ?? 0) + ms);
  }
  return [...buckets.entries()]
    .map(([name, ms]) => ({ name, ms, share: busy ? ms / busy : 0 }))
    .sort((a, b) => b.ms - a.ms);
}

export function readProfile(file: string): Profile {
  return JSON.parse(readFileSync(file, 'utf8')) as Profile;
}

export function summarizeProfile(file: string, top = 25): string {
  const { byFunction, byOrigin, totalMs } = selfTimes(readProfile(file));
  const busy = byFunction.filter((f) => f.name !== '(idle)');
  const busyMs = busy.reduce((a, f) => a + f.ms, 0);
  const fmt = (rows: SelfTime[]) =>
    rows
      .slice(0, top)
      .map((r) => `${(r.share * 100).toFixed(1).padStart(5)} %  ${r.ms.toFixed(0).padStart(7)} ms  ${r.name}`)
      .join('\n');
  return [
    `total ${totalMs.toFixed(0)} ms sampled, ${busyMs.toFixed(0)} ms not idle`,
    'self time by function:',
    fmt(byFunction),
    '',
    'self time by file or package:',
    fmt(byOrigin),
  ].join('\n');
}

if (require.main === module) {
  const [file, top] = process.argv.slice(2);
  if (!file) {
    process.stderr.write('usage: tsx bench/profile-summary.ts FILE.cpuprofile [TOP]\n');
    process.exit(2);
  }
  process.stdout.write(`${summarizeProfile(file, Number(top ?? 30))}\n`);
}
