import { performance } from 'node:perf_hooks';
import type { ConnectionGauge } from '../security/connections';
import type { ProbeResult } from './provider-probe';

/** Connection saturation: not ready above `threshold` of the cap, so the ALB sends new work elsewhere. */
export interface ConnectionsResult extends ProbeResult {
  open: number;
  max: number;
}

export interface ReadinessReport {
  ready: boolean;
  checks: { database: ProbeResult; redis: ProbeResult; upstream: ProbeResult; connections?: ConnectionsResult };
}

export interface Readiness {
  check(): Promise<ReadinessReport>;
}

export interface ReadinessDeps {
  database: () => Promise<unknown>;
  /** Absent in embedded mode: the in-process stores are always there. */
  redis?: () => Promise<unknown>;
  /** Cached by the model catalog: a probe never spends a completion. */
  upstream: () => Promise<ProbeResult>;
  /** The whole check is bounded by this. */
  timeoutMs?: number;
  /** This process's open connections against its cap. */
  connections?: ConnectionGauge;
  /** Fraction of the connection cap above which the process is not ready. @default 0.9 */
  saturationThreshold?: number;
}

async function timed(fn: () => Promise<unknown>, timeoutMs: number): Promise<ProbeResult> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    const result = await Promise.race([
      fn(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    const latency_ms = Math.round(performance.now() - started);
    if (result && typeof result === 'object' && 'ok' in result) return { ...(result as ProbeResult), latency_ms };
    return { ok: true, latency_ms };
  } catch (err) {
    return { ok: false, latency_ms: Math.round(performance.now() - started), error: classify(err) };
  } finally {
    clearTimeout(timer);
  }
}

/** A coarse reason only: driver messages name hosts and ports, and this answer is public. */
function classify(err: unknown): string {
  const e = err as { message?: string; code?: string; status?: number };
  if (e?.message?.startsWith('no answer within') || e?.code === 'ETIMEDOUT') return 'timeout';
  if (e?.code && /^(ECONN|ENOTFOUND|EAI_|EHOSTUNREACH|ENETUNREACH)/.test(e.code)) return 'unreachable';
  if (/connection|connect|closed|reset|refused/i.test(e?.message ?? '')) return 'unreachable';
  if (typeof e?.status === 'number') return `answered ${e.status}`;
  return 'failed';
}

export function createReadiness(deps: ReadinessDeps): Readiness {
  const timeoutMs = deps.timeoutMs ?? 900;
  return {
    async check() {
      const [database, redis, upstream] = await Promise.all([
        timed(deps.database, timeoutMs),
        deps.redis ? timed(deps.redis, timeoutMs) : Promise.resolve({ ok: true, latency_ms: 0 }),
        timed(deps.upstream, timeoutMs),
      ]);
      const gauge = deps.connections;
      const connections: ConnectionsResult | undefined = gauge && {
        ok: gauge.saturation() <= (deps.saturationThreshold ?? 0.9),
        latency_ms: 0,
        open: gauge.open,
        max: gauge.max,
        ...(gauge.saturation() > (deps.saturationThreshold ?? 0.9) ? { error: 'saturated' } : {}),
      };
      const ready = database.ok && redis.ok && upstream.ok && (connections?.ok ?? true);
      return { ready, checks: { database, redis, upstream, ...(connections ? { connections } : {}) } };
    },
  };
}
