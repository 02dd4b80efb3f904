import { performance } from 'node:perf_hooks';
import { newRequestStats, type RequestStats } from '../lib/request-stats';
import type { UpstreamClient } from '../upstream/client';
import { UpstreamError } from '../errors';
import { forward, readJsonBody } from '../upstream/forward';

export interface ModelList {
  object: 'list';
  data: Array<{ id: string; object: string; created: number; owned_by: string }>;
}

export interface ProbeResult {
  ok: boolean;
  latency_ms: number;
  error?: string;
}

export interface ModelCatalog {
  /** The upstream's model list, fetched at most once per TTL and shared by concurrent callers. */
  list(stats?: RequestStats): Promise<ModelList>;
  /** Readiness view of the upstream: the last fetch's outcome, refreshed at most once per TTL. */
  probe(): Promise<ProbeResult>;
}

export function createModelCatalog(opts: { upstream: UpstreamClient; ttlMs?: number; now?: () => number }): ModelCatalog {
  const ttl = opts.ttlMs ?? 30_000;
  const now = opts.now ?? Date.now;
  let cached: { list: ModelList; at: number } | undefined;
  let lastProbe: { result: ProbeResult; at: number } | undefined;
  let inflight: Promise<ModelList> | undefined;

  async function fetchList(stats: RequestStats): Promise<ModelList> {
    const started = performance.now();
    try {
      const res = await forward(opts.upstream, { method: 'GET', path: '/models' }, stats);
      const list = (await readJsonBody(res, stats)).json as ModelList;
      if (!list || !Array.isArray(list.data)) {
        throw new UpstreamError('The upstream model server sent a malformed model list.');
      }
      cached = { list, at: now() };
      lastProbe = { result: { ok: true, latency_ms: Math.round(performance.now() - started) }, at: now() };
      return list;
    } catch (err) {
      lastProbe = {
        result: { ok: false, latency_ms: Math.round(performance.now() - started), error: describe(err) },
        at: now(),
      };
      throw err;
    }
  }

  function refresh(stats: RequestStats): Promise<ModelList> {
    inflight ??= fetchList(stats).finally(() => {
      inflight = undefined;
    });
    return inflight;
  }

  return {
    async list(stats = newRequestStats()) {
      if (cached && now() - cached.at < ttl) return cached.list;
      return refresh(stats);
    },
    async probe() {
      if (lastProbe && now() - lastProbe.at < ttl) return lastProbe.result;
      await refresh(newRequestStats()).catch(() => undefined);
      return lastProbe!.result;
    },
  };
}

/** Public, coarse: the upstream's own message may name hosts. */
function describe(err: unknown): string {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' ? code : 'upstream_error';
}
