/**
 * The Fastify wiring: counts a request in when it arrives and, when its response closes (finished,
 * or the caller gone), records it once: Prometheus, EMF and the access log line. Adds Server-Timing
 * to proxied answers. Nothing here allocates a closure per request.
 */
import type { ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { newRequestStats } from '../lib/request-stats';
import { logAccess } from './access-log';
import type { EmfEmitter } from './emf';
import type { GatewayMetrics } from './metrics';
import { CLIENT_CLOSED, UNMATCHED_ROUTE, requestOutcome } from './outcome';

declare module 'fastify' {
  interface FastifyRequest {
    /** The error the request failed with, if any: the access log carries it as the cause. */
    failure: Error | null;
  }
}

/** Routes whose answers carry `Server-Timing: gateway;dur=…, upstream;dur=…`. */
export const SERVER_TIMING_ROUTES: ReadonlySet<string> = new Set(['/v1/chat/completions', '/v1/embeddings']);

const kRequest = Symbol('observability.request');
type TrackedResponse = ServerResponse & { [kRequest]?: FastifyRequest };

export interface InstrumentDeps {
  metrics?: GatewayMetrics;
  emf?: EmfEmitter;
  /** Write the access log line. @default true */
  accessLog?: boolean;
}

/** `gateway` is our own time so far, `upstream` the time spent waiting on the upstream (ms). */
export function serverTiming(totalMs: number, upstreamMs: number): string {
  return `gateway;dur=${Math.max(0, totalMs - upstreamMs).toFixed(3)}, upstream;dur=${upstreamMs.toFixed(3)}`;
}

/**
 * Returns the `instrument` hook for buildApp. It must run before any other onRequest hook, so that
 * requests refused there (503 while draining) are still counted and logged.
 */
export function instrumentation(deps: InstrumentDeps): (app: FastifyInstance) => void {
  const { metrics, emf } = deps;
  const accessLog = deps.accessLog !== false;

  // 'close' fires exactly once per response: after 'finish', or when the connection goes first.
  function onClose(this: TrackedResponse) {
    const request = this[kRequest];
    if (!request) return;
    this[kRequest] = undefined;
    const stats = request.stats ?? newRequestStats();
    const status = this.writableFinished ? this.statusCode : CLIENT_CLOSED;
    const route = stats.route ?? request.routeOptions.url ?? UNMATCHED_ROUTE;
    const outcome = requestOutcome(route, request.method, status, performance.now() - request.startedAt, stats);
    metrics?.requestFinished(outcome);
    emf?.record(outcome);
    if (accessLog) logAccess(request.log, outcome, stats.keyId, request.failure);
  }

  function onRequest(request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) {
    metrics?.requestStarted();
    const res = reply.raw as TrackedResponse;
    res[kRequest] = request;
    res.on('close', onClose);
    done();
  }

  function onError(request: FastifyRequest, _reply: FastifyReply, error: FastifyError, done: () => void) {
    request.failure = error;
    done();
  }

  function onSend(request: FastifyRequest, reply: FastifyReply, payload: unknown, done: (err: null, p: unknown) => void) {
    const stats = request.stats;
    if (stats?.route !== undefined && SERVER_TIMING_ROUTES.has(stats.route)) {
      reply.header('server-timing', serverTiming(performance.now() - request.startedAt, stats.upstreamMs));
    }
    done(null, payload);
  }

  return (app) => {
    app.decorateRequest('failure', null);
    app.addHook('onRequest', onRequest);
    app.addHook('onError', onError);
    app.addHook('onSend', onSend);
  };
}
