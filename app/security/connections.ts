/**
 * A per-process connection cap. Every socket costs a file descriptor whether or not it ever sends
 * a request; past the process's descriptor limit every upstream call fails. Two lines of defence:
 * - past `max` open connections, a new request is answered 503 (OpenAI's shape, retry-after) and
 *   its connection closed, so the caller learns why and retries elsewhere;
 * - past `max` + `headroom`, Node refuses sockets at accept (`server.maxConnections`): nothing can
 *   be said on a socket that is never read, but the descriptors left stay the process's own.
 * Sockets that never send a byte are closed by the server's headers timeout (app.ts).
 */
import type { Server } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { ServiceUnavailableError } from '../errors';

export interface ConnectionGauge {
  /** Connections open now on the public listener. */
  readonly open: number;
  readonly max: number;
  /** Open connections as a fraction of `max`. */
  saturation(): number;
}

export interface ConnectionLimit extends ConnectionGauge {
  /** Counts `server`'s connections and sets its accept-time hard limit. */
  watch(server: Server): void;
}

export function createConnectionLimit(opts: { max: number; headroom?: number }): ConnectionLimit {
  const { max } = opts;
  let open = 0;
  return {
    get open() {
      return open;
    },
    max,
    saturation: () => open / max,
    watch(server) {
      server.maxConnections = max + (opts.headroom ?? Math.max(64, Math.ceil(max / 10)));
      server.on('connection', (socket) => {
        open++;
        socket.once('close', () => open--);
      });
    },
  };
}

/** The onRequest hook that refuses requests over the cap (registered first: nothing is spent on them). */
export function connectionLimitHook(app: FastifyInstance, limit: ConnectionLimit): void {
  limit.watch(app.server);
  app.addHook('onRequest', (_request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => {
    if (limit.open <= limit.max) {
      done();
      return;
    }
    reply.header('connection', 'close');
    done(new ServiceUnavailableError('The server is at its connection limit. Please retry.', 'too_many_connections'));
  });
}
