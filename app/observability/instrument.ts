/**
 * The Fastify wiring: counts a request in when it arrives and, when its response closes (finished,
 * or the caller gone), records it once — Prometheus, EMF and the access-log line — from the
 * outcome the pipeline returned (a stream's outcome settles when the stream has ended).
 */
import type { ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import type { CallOutcome } from '../pipeline/outcome';
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

const kRequest = Symbol('observability.request');
type TrackedResponse = ServerResponse & { [kRequest]?: FastifyRequest };

export interface InstrumentDeps {
  metrics?: GatewayMetrics;
  emf?: EmfEmitter;
  /** Write the access log line. @default true */
  accessLog?: boolean;
}

/**
 * Returns the `instrument` hook for buildApp. It must run before any other onRequest hook, so that
 * requests refused there (503 while draining, 401) are still counted and logged.
 */
export function instrumentation(deps: InstrumentDeps): (app: FastifyInstance) => void {
  const { metrics, emf } = deps;
  const accessLog = deps.accessLog !== false;

  function finish(request: FastifyRequest, status: number, call: CallOutcome | undefined) {
    const route = request.routeOptions.url ?? UNMATCHED_ROUTE;
    const outcome = requestOutcome(route, request.method, status, performance.now() - request.startedAt, call);
    metrics?.requestFinished(outcome);
    emf?.record(outcome);
    if (accessLog) logAccess(request.log, outcome, request.apiKey?.id, request.failure);
  }

  // 'close' fires exactly once per response: after 'finish', or when the connection goes first.
  function onClose(this: TrackedResponse) {
    const request = this[kRequest];
    if (!request) return;
    this[kRequest] = undefined;
    const status = this.writableFinished ? this.statusCode : CLIENT_CLOSED;
    if (request.callOutcome) request.callOutcome.then((call) => finish(request, status, call));
    else finish(request, status, undefined);
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

  return (app) => {
    app.decorateRequest('failure', null);
    app.addHook('onRequest', onRequest);
    app.addHook('onError', onError);
  };
}
