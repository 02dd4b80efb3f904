import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { InvalidRequestError, ServiceUnavailableError } from '../errors';
import type { CallOutcome } from '../pipeline/outcome';

declare module 'fastify' {
  interface FastifyRequest {
    /** performance.now() when the request arrived. */
    startedAt: number;
    /** The model call's outcome, set by routes that run the pipeline; settles when the call is over. */
    callOutcome?: Promise<CallOutcome>;
  }
}

const SAFE_REQUEST_ID = /^[\w.:@\-]{1,128}$/;

/** A caller's x-request-id is echoed when it is a sane token; otherwise one is generated. */
export function requestId(req: { headers: Record<string, string | string[] | undefined> }): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && SAFE_REQUEST_ID.test(given) ? given : `req_${randomUUID().replace(/-/g, '')}`;
}

export interface Lifecycle {
  /** Set on SIGTERM: new requests get 503 while in-flight ones finish. */
  draining: boolean;
}

/** Per-request state, the request id header, and the 503 answer while the process drains. */
export function requestContext(app: FastifyInstance, lifecycle: Lifecycle) {
  app.decorateRequest('startedAt', 0);
  app.decorateRequest('callOutcome', undefined);
  // A callback hook, not an async one: no promise per request on the hot path.
  app.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => {
    request.startedAt = performance.now();
    reply.header('x-request-id', request.id);
    // Node's own check (off, see app.ts) answers this with an empty body; ours speaks ErrorResponse.
    if (request.raw.httpVersion === '1.1' && request.headers.host === undefined) {
      done(new InvalidRequestError('An HTTP/1.1 request must carry a Host header.'));
      return;
    }
    if (lifecycle.draining) {
      reply.header('connection', 'close');
      done(new ServiceUnavailableError('The server is shutting down. Please retry.', 'shutting_down'));
      return;
    }
    done();
  });
}

const kHangUp = Symbol('hangUp');
type HangUpResponse = ServerResponse & { [kHangUp]?: AbortController };

// One shared listener ('close' fires once per response) instead of a closure per request.
function onResponseClose(this: HangUpResponse): void {
  const controller = this[kHangUp];
  this[kHangUp] = undefined;
  if (controller && !this.writableFinished) controller.abort();
}

/** An AbortSignal that fires when the caller hangs up before the answer is complete. */
export function abortOnHangUp(reply: FastifyReply): AbortSignal {
  const res = reply.raw as HangUpResponse;
  let controller = res[kHangUp];
  if (!controller) {
    controller = new AbortController();
    res[kHangUp] = controller;
    res.on('close', onResponseClose);
  }
  return controller.signal;
}

/** Aborts the request's hang-up signal now (its upstream call is no longer wanted). */
export function abortNow(reply: FastifyReply): void {
  abortOnHangUp(reply);
  (reply.raw as HangUpResponse)[kHangUp]?.abort();
}
