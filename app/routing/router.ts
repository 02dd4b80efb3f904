import { setTimeout as sleep } from 'node:timers/promises';
import {
  ApiError,
  RateLimitError,
  ServiceUnavailableError,
  UpstreamClientError,
  UpstreamError,
  UpstreamTimeoutError,
} from '../errors';
import type { ProviderAdapter, ProviderRequest, ProviderResponse } from '../providers/types';
import { Circuit, type CircuitOptions } from './circuit';
import type { Price, RoutingDocument } from './document';

export type UpstreamErrorKind = 'timeout' | 'connection' | 'status_5xx' | 'status_4xx' | 'status_429' | 'stream';

export interface Deployment {
  /** `<public name>#<index>`: bounded, stable across restarts; a label in logs and metrics. */
  readonly id: string;
  readonly provider: ProviderAdapter;
  /** The provider's model id; undefined means the name the caller asked for. */
  readonly model?: string;
  readonly weight: number;
  readonly priority: number;
  readonly rpm?: number;
  readonly tpm?: number;
  readonly price?: Price;
  readonly circuit: Circuit;
}

export interface ModelRoute {
  /** The public name, or `*`. */
  readonly name: string;
  readonly deployments: readonly Deployment[];
  readonly fallbacks: readonly string[];
}

/** What a caller's model name resolved to. */
export interface RoutePlan {
  requested: string;
  route: ModelRoute;
}

/** One deployment's per-minute limits, checked like a key's before a call (Redis, shared by replicas). */
export type DeploymentLimiter = (d: Deployment, tokens: number) => Promise<{ allowed: boolean; retryAfterMs: number }>;

export interface Routed {
  response: ProviderResponse;
  deployment: Deployment;
  /** The provider's model id the answer came from. */
  model: string;
  /** Bookkeeping of every attempt, the served one included. */
  trace: AttemptTrace;
  /** Call when the answer is fully delivered (or abandoned): frees the provider's in-flight slot. */
  release(): void;
}

export interface AttemptTrace {
  attempts: number;
  /** Time waiting on providers up to response headers, all attempts. */
  upstreamMs: number;
  upstreamStatus?: number;
  upstreamError?: UpstreamErrorKind;
  /** The deployment of the last attempt (served or failed). */
  deployment?: Deployment;
}

export interface RouterOptions {
  routes: ReadonlyMap<string, ModelRoute>;
  /**
   * Calls per caller request, over every deployment and fallback: a storm of provider failures
   * never multiplies upstream load beyond this. UPSTREAM_MAX_RETRIES + 1.
   */
  maxAttempts: number;
  /** Calls in flight per provider before new ones are shed with 503 (instead of queueing). */
  maxInflightPerProvider: number;
  limitDeployment?: DeploymentLimiter;
  /** Backoff base before calling a deployment again: full jitter up to base·2ⁿ, capped at 8 s. */
  retryBaseMs?: number;
  random?: () => number;
}

export interface Router {
  /** The route for a caller's model name (exact, else `*`), or undefined (404 model_not_found). */
  resolve(name: string): RoutePlan | undefined;
  /** The `*` route, when the document has one. */
  catchAll(): ModelRoute | undefined;
  /** Public names, for /v1/models (without `*`). */
  names(): Array<{ name: string; ownedBy: string }>;
  /**
   * Every deployment a plan may reach (its route, then its fallbacks), with the model id each is
   * asked for and its price: what the budget reservation prices, the dearest of them.
   */
  reachable(plan: RoutePlan): Array<{ model: string; price?: Price }>;
  /** Calls deployments in order until one answers, within the attempt bound. */
  send(plan: RoutePlan, req: Omit<ProviderRequest, 'model'>, tokens: number, trace: AttemptTrace): Promise<Routed>;
  providers(): ProviderAdapter[];
}

/** Builds each public name's deployments over the given provider adapters. */
export function buildRoutes(
  doc: RoutingDocument,
  providers: ReadonlyMap<string, ProviderAdapter>,
  circuit: CircuitOptions = {},
): Map<string, ModelRoute> {
  const routes = new Map<string, ModelRoute>();
  for (const [name, m] of Object.entries(doc.models)) {
    const deployments = m.deployments.map(
      (d, i): Deployment => ({
        id: `${name}#${i}`,
        provider: providers.get(d.provider)!,
        model: d.model ?? (name === '*' ? undefined : name),
        weight: d.weight,
        priority: d.priority,
        rpm: d.rpm,
        tpm: d.tpm,
        price: d.price,
        circuit: new Circuit(circuit),
      }),
    );
    routes.set(name, { name, deployments, fallbacks: m.fallbacks });
  }
  return routes;
}

/** The longest cool-down a request waits out instead of answering at once. */
const MAX_WAIT_MS = 8000;

function retryAfterMs(err: ApiError): number | undefined {
  const v = err.headers['retry-after'];
  const s = v === undefined ? NaN : Number(v);
  return Number.isFinite(s) && s >= 0 ? s * 1000 : undefined;
}

/** Connection errors, timeouts, 429 and 5xx are worth another deployment; anything else is final. */
function classify(err: unknown): { retryable: boolean; kind?: UpstreamErrorKind; status?: number; sameAgain?: false } {
  // Timeouts (the caller already waited) and refused credentials (asking again cannot help) move
  // on to another deployment, never the same one again.
  if (err instanceof UpstreamTimeoutError) return { retryable: true, kind: 'timeout', sameAgain: false };
  if (err instanceof UpstreamError) {
    const status = err.upstreamStatus;
    if (status === undefined) return { retryable: true, kind: 'connection' };
    if (status < 500) return { retryable: true, kind: 'status_4xx', status, sameAgain: false };
    return { retryable: true, kind: 'status_5xx', status };
  }
  if (err instanceof UpstreamClientError) {
    return err.status === 429
      ? { retryable: true, kind: 'status_429', status: 429 }
      : { retryable: false, kind: 'status_4xx', status: err.status };
  }
  if (err instanceof ServiceUnavailableError) return { retryable: true, kind: 'status_5xx', status: 503 };
  return { retryable: false };
}

function backoff(n: number, baseMs: number, random: () => number): number {
  return random() * Math.min(8000, baseMs * 2 ** n);
}

/** Deployments in the order to try: lower priority first, then a weighted draw within a priority. */
export function orderDeployments(deployments: readonly Deployment[], random: () => number = Math.random): Deployment[] {
  const byPriority = new Map<number, Deployment[]>();
  for (const d of deployments) byPriority.set(d.priority, [...(byPriority.get(d.priority) ?? []), d]);
  const out: Deployment[] = [];
  for (const p of [...byPriority.keys()].sort((a, b) => a - b)) {
    const pool = [...byPriority.get(p)!];
    while (pool.length) {
      let r = random() * pool.reduce((sum, d) => sum + d.weight, 0);
      let i = 0;
      while (i < pool.length - 1 && (r -= pool[i].weight) >= 0) i++;
      out.push(pool.splice(i, 1)[0]);
    }
  }
  return out;
}

export function createRouter(opts: RouterOptions): Router {
  const random = opts.random ?? Math.random;
  const retryBase = opts.retryBaseMs ?? 250;
  const inflight = new Map<ProviderAdapter, number>();
  const catchAll = opts.routes.get('*');

  /** A plan's route and then its fallbacks, each with the name its deployments are asked under. */
  function routesOf(plan: RoutePlan): Array<{ route: ModelRoute; name: string }> {
    const out = [{ route: plan.route, name: plan.requested }];
    // Only the first route's fallbacks are followed: chains stay as bounded as the config reads.
    for (const name of plan.route.fallbacks) {
      const route = opts.routes.get(name);
      if (route) out.push({ route, name });
    }
    return out;
  }

  /** The deployments to try, in order, with the model id each one is asked for. */
  function candidates(plan: RoutePlan): Array<{ d: Deployment; model: string }> {
    return routesOf(plan).flatMap(({ route, name }) => orderDeployments(route.deployments, random).map((d) => ({ d, model: d.model ?? name })));
  }

  return {
    resolve(name) {
      const route = opts.routes.get(name) ?? catchAll;
      return route && name !== '*' ? { requested: name, route } : undefined;
    },
    catchAll: () => catchAll,
    reachable(plan) {
      return routesOf(plan).flatMap(({ route, name }) => route.deployments.map((d) => ({ model: d.model ?? name, price: d.price })));
    },
    names() {
      return [...opts.routes.values()]
        .filter((r) => r.name !== '*')
        .map((r) => ({ name: r.name, ownedBy: r.deployments[0].provider.name }));
    },
    providers() {
      return [...new Set([...opts.routes.values()].flatMap((r) => r.deployments.map((d) => d.provider)))];
    },
    async send(plan, req, tokens, trace) {
      const list = candidates(plan);
      let lastError: unknown;
      let coolingMs = Infinity;
      let saturated = false;
      let limitedMs = Infinity;
      const tried = new Set<Deployment>();
      const doneWith = new Set<Deployment>();
      /** When this request may call a deployment again: a 429's retry-after, if it is short. */
      const notBefore = new Map<Deployment, number>();

      for (let round = 0; trace.attempts < opts.maxAttempts; round++) {
        const before = trace.attempts;
        for (const { d, model } of list) {
          if (trace.attempts >= opts.maxAttempts) break;
          if (req.signal.aborted) throw req.signal.reason;
          if (doneWith.has(d)) continue;
          if ((inflight.get(d.provider) ?? 0) >= opts.maxInflightPerProvider) {
            saturated = true;
            continue;
          }
          if (!d.circuit.tryAcquire()) {
            coolingMs = Math.min(coolingMs, d.circuit.waitMs());
            continue;
          }
          if (opts.limitDeployment && (d.rpm !== undefined || d.tpm !== undefined)) {
            const decision = await opts.limitDeployment(d, tokens);
            if (!decision.allowed) {
              d.circuit.release();
              limitedMs = Math.min(limitedMs, decision.retryAfterMs);
              continue;
            }
          }
          if (tried.has(d)) {
            const wait = Math.max(backoff(trace.attempts - 1, retryBase, random), (notBefore.get(d) ?? 0) - Date.now());
            await sleep(wait, undefined, { signal: req.signal });
          }
          tried.add(d);
          trace.attempts++;
          trace.deployment = d;
          inflight.set(d.provider, (inflight.get(d.provider) ?? 0) + 1);
          let released = false;
          const release = () => {
            if (released) return;
            released = true;
            inflight.set(d.provider, (inflight.get(d.provider) ?? 1) - 1);
          };
          const started = performance.now();
          try {
            const response = await d.provider.send({ ...req, model });
            trace.upstreamMs += performance.now() - started;
            trace.upstreamStatus = 200;
            trace.upstreamError = undefined;
            d.circuit.success();
            return { response, deployment: d, model, trace, release };
          } catch (err) {
            trace.upstreamMs += performance.now() - started;
            release();
            if (req.signal.aborted) {
              d.circuit.release();
              throw err;
            }
            const c = classify(err);
            trace.upstreamStatus = c.status;
            trace.upstreamError = c.kind;
            if (!c.retryable) {
              // The provider answered; the request was at fault, not the deployment.
              d.circuit.success();
              throw err;
            }
            const retryAfter = c.kind === 'status_429' ? retryAfterMs(err as ApiError) : undefined;
            d.circuit.failure(retryAfter);
            if (c.sameAgain === false || (retryAfter ?? 0) > MAX_WAIT_MS) doneWith.add(d);
            else if (retryAfter) notBefore.set(d, Date.now() + retryAfter);
            lastError = err;
          }
        }
        if (trace.attempts === before) {
          // Nothing may be called now. A cool-down the provider asked for that is short (a 429's
          // retry-after of a few seconds) is waited out while attempts remain; a long one is not.
          if (coolingMs > MAX_WAIT_MS || lastError === undefined) break;
          await sleep(coolingMs, undefined, { signal: req.signal });
          coolingMs = Infinity;
        }
        if (round > 2 * opts.maxAttempts) break;
      }
      if (lastError !== undefined) throw lastError;
      if (limitedMs !== Infinity) {
        const seconds = String(Math.max(1, Math.ceil(limitedMs / 1000)));
        throw new RateLimitError(
          `Every deployment of '${plan.requested}' is at its provider's rate limit. Please retry.`,
          { 'retry-after': seconds },
        );
      }
      if (saturated) {
        throw new ServiceUnavailableError(
          `The upstream for '${plan.requested}' is saturated. Please retry.`,
          'upstream_saturated',
        );
      }
      const err = new ServiceUnavailableError(
        `Every deployment of '${plan.requested}' is cooling down after failures. Please retry.`,
        'upstream_unavailable',
      );
      err.headers['retry-after'] = String(Math.max(1, Math.ceil((coolingMs === Infinity ? 1000 : coolingMs) / 1000)));
      throw err;
    },
  };
}
