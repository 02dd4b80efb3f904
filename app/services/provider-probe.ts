import { performance } from 'node:perf_hooks';
import type { ProviderAdapter } from '../providers/types';

export interface ProbeResult {
  ok: boolean;
  latency_ms: number;
  error?: string;
  /** Per provider, when there are several. */
  providers?: Record<string, { ok: boolean; latency_ms: number; error?: string }>;
}

/** Public, coarse: a provider's own message may name hosts. */
function describe(err: unknown): string {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && /^[\w]+$/.test(code) ? code : 'upstream_error';
}

/**
 * Readiness of the providers: each probed at most once per `ttlMs` (concurrent checks share a probe),
 * so a load balancer polling /ready never multiplies calls to a provider. Ready while at least one
 * provider answers: one provider's outage is not this task's failure, and the router routes around it.
 */
export function createProviderProbe(providers: readonly ProviderAdapter[], opts: { ttlMs?: number; now?: () => number } = {}) {
  const ttl = opts.ttlMs ?? 30_000;
  const now = opts.now ?? Date.now;
  const last = new Map<ProviderAdapter, { at: number; result: Promise<{ ok: boolean; latency_ms: number; error?: string }> }>();

  function probe(p: ProviderAdapter) {
    const cached = last.get(p);
    if (cached && now() - cached.at < ttl) return cached.result;
    const started = performance.now();
    const result = p.probe().then(
      (): { ok: boolean; latency_ms: number; error?: string } => ({ ok: true, latency_ms: Math.round(performance.now() - started) }),
      (err: unknown) => ({ ok: false, latency_ms: Math.round(performance.now() - started), error: describe(err) }),
    );
    last.set(p, { at: now(), result });
    return result;
  }

  return async (): Promise<ProbeResult> => {
    const results = await Promise.all(providers.map(async (p) => [p.name, await probe(p)] as const));
    const ok = results.some(([, r]) => r.ok);
    const latency = Math.max(0, ...results.map(([, r]) => r.latency_ms));
    return {
      ok,
      latency_ms: latency,
      ...(ok ? {} : { error: results[0]?.[1].error ?? 'no_provider' }),
      providers: Object.fromEntries(results),
    };
  };
}
