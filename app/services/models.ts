import { UpstreamError } from '../errors';
import type { ProviderAdapter } from '../providers/types';
import type { Router } from '../routing/router';

export interface ModelEntry {
  id: string;
  object: 'model';
  created: number;
  owned_by: string;
}

export interface ModelList {
  object: 'list';
  data: ModelEntry[];
}

export interface ModelCatalog {
  /** The public names, plus what a `*` route's providers list; fetched at most once per TTL. */
  list(): Promise<ModelList>;
  /** One model by its public name, or undefined. */
  get(id: string): Promise<ModelEntry | undefined>;
}

async function providerModels(p: ProviderAdapter, timeoutMs: number): Promise<ModelEntry[]> {
  if (!p.objectRequest) return [];
  const res = await p.objectRequest({ method: 'GET', path: '/models', signal: AbortSignal.timeout(timeoutMs), headers: {} });
  if (res.kind !== 'json') return [];
  const list = JSON.parse(res.body) as { data?: unknown };
  if (!Array.isArray(list.data)) throw new UpstreamError('The upstream model server sent a malformed model list.');
  return list.data
    .filter((m): m is { id: string; created?: number; owned_by?: string } => typeof (m as { id?: unknown })?.id === 'string')
    .map((m) => ({ id: m.id, object: 'model', created: m.created ?? 0, owned_by: m.owned_by ?? p.name }));
}

/**
 * The model names callers can use: every public name of the routing document (owned_by: its first
 * deployment's provider) and, when `*` routes the rest, the models its providers list.
 */
export function createModelCatalog(opts: { router: Router; ttlMs?: number; timeoutMs?: number; now?: () => number }): ModelCatalog {
  const ttl = opts.ttlMs ?? 30_000;
  const now = opts.now ?? Date.now;
  const timeoutMs = opts.timeoutMs ?? 5000;
  let cached: { list: ModelList; at: number } | undefined;
  let inflight: Promise<ModelList> | undefined;

  async function fetchList(): Promise<ModelList> {
    const named: ModelEntry[] = opts.router.names().map((n) => ({ id: n.name, object: 'model', created: 0, owned_by: n.ownedBy }));
    const catchAll = opts.router.catchAll();
    let listed: ModelEntry[] = [];
    if (catchAll) {
      const results = await Promise.allSettled(catchAll.deployments.map((d) => providerModels(d.provider, timeoutMs)));
      const ok = results.filter((r): r is PromiseFulfilledResult<ModelEntry[]> => r.status === 'fulfilled');
      if (ok.length === 0 && named.length === 0 && results.length > 0) throw (results[0] as PromiseRejectedResult).reason;
      listed = ok.flatMap((r) => r.value);
    }
    const seen = new Set(named.map((m) => m.id));
    const list: ModelList = { object: 'list', data: [...named, ...listed.filter((m) => !seen.has(m.id) && seen.add(m.id))] };
    cached = { list, at: now() };
    return list;
  }

  const list = async () => {
    if (cached && now() - cached.at < ttl) return cached.list;
    inflight ??= fetchList().finally(() => {
      inflight = undefined;
    });
    return inflight;
  };

  return {
    list,
    async get(id) {
      const plan = opts.router.resolve(id);
      if (!plan) return undefined;
      if (plan.route.name !== '*') return { id, object: 'model', created: 0, owned_by: plan.route.deployments[0].provider.name };
      return (await list()).data.find((m) => m.id === id);
    },
  };
}
