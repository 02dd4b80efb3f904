import cors from '@fastify/cors';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Logger } from 'pino';
import type { Config } from './config';
import type { Pipeline } from './pipeline/pipeline';
import { requireAdmin, requireClientKey } from './plugins/auth';
import { clientErrorHandler, errorHandler, frameworkErrors } from './plugins/error-handler';
import { jsonBody } from './plugins/json-body';
import type { AuthThrottle } from './security/auth-throttle';
import { connectionLimitHook, type ConnectionLimit } from './security/connections';
import { createScrubber } from './security/scrub';
import { requestContext, requestId, type Lifecycle } from './plugins/request-context';
import type { ProviderAdapter } from './providers/types';
import { adminKeysRoutes } from './routes/admin/keys';
import { adminTeamsRoutes } from './routes/admin/teams';
import { adminUsageRoute, type UsageReader } from './routes/admin/usage';
import { healthRoutes } from './routes/health';
import { batchRoute } from './routes/v1/batch';
import { chatRoute } from './routes/v1/chat-completions';
import { completionsRoute } from './routes/v1/completions';
import { embeddingsRoute } from './routes/v1/embeddings';
import { keyRoute } from './routes/v1/key';
import { messagesRoute } from './routes/v1/messages';
import { moderationsRoute } from './routes/v1/moderations';
import { modelsRoute } from './routes/v1/models';
import { responsesRoute } from './routes/v1/responses';
import type { Router } from './routing/router';
import type { Authenticator } from './services/authenticator';
import type { ModelCatalog } from './services/models';
import type { Readiness } from './services/readiness';
import type { KeyStore } from './stores/keys';
import type { ObjectOwners } from './stores/object-owners';
import type { TeamStore } from './stores/teams';
import type { UsageQuery } from './stores/usage-query';

/** Everything the HTTP layer needs, built by `createServices` (or by a test). */
export interface AppDeps {
  config: Pick<
    Config,
    | 'BODY_LIMIT_BYTES'
    | 'ADMIN_API_KEY'
    | 'BATCH_MAX_CONCURRENCY'
    | 'BATCH_MAX_ITEMS'
    | 'CORS_ORIGINS'
    | 'HEADERS_TIMEOUT_MS'
    | 'REQUEST_TIMEOUT_MS'
    | 'KEEP_ALIVE_TIMEOUT_MS'
    | 'TRUST_PROXY_HOPS'
    | 'DEFAULT_RPM'
    | 'DEFAULT_TPM'
  >;
  logger: Logger;
  lifecycle: Lifecycle;
  authenticator: Authenticator;
  keys: KeyStore;
  teams: TeamStore;
  pipeline: Pipeline;
  router: Router;
  owners: ObjectOwners;
  models: ModelCatalog;
  usage: UsageReader & Pick<UsageQuery, 'spendSince' | 'monthTokens'>;
  readiness: Readiness;
  /**
   * Every credential this process holds (provider keys, admin key, store passwords): no error body
   * may carry one, in any encoding. Values shorter than 6 characters are not looked for.
   */
  secrets: string[];
  /** Failed authentication per source address, client and admin alike. */
  authThrottle: AuthThrottle;
  /** The per-process connection cap; readiness reads the same gauge. */
  connections: ConnectionLimit;
  /** Observability hooks (access log, metrics), registered before every other hook and the routes. */
  instrument?: (app: FastifyInstance) => void;
}

/** Builds the app without listening: server.ts listens, tests call `inject()`. */
export function buildApp(deps: AppDeps): FastifyInstance {
  const app: FastifyInstance = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    // The access log (one line per request, its own fields) replaces Fastify's request logging.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: deps.config.BODY_LIMIT_BYTES,
    genReqId: requestId,
    // Behind the ALB, which keeps connections open up to its idle timeout: stay open longer, or
    // the ALB may send a request on a connection this process is closing (a 502 for the caller).
    keepAliveTimeout: deps.config.KEEP_ALIVE_TIMEOUT_MS,
    // Time to receive a whole request (headers and body), not to answer it: a client trickling its
    // body cannot hold a connection forever, while long streams are unaffected.
    requestTimeout: deps.config.REQUEST_TIMEOUT_MS,
    // The ALB's address is the socket's; the caller's is the X-Forwarded-For entry it appended.
    // (proxy-addr's trust function for a hop count: the nearest TRUST_PROXY_HOPS addresses are proxies).
    trustProxy: deps.config.TRUST_PROXY_HOPS > 0 ? (_address: string, hop: number) => hop < deps.config.TRUST_PROXY_HOPS : false,
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    // Requests Node or the router refuse still get an ErrorResponse (a missing Host: request-context).
    clientErrorHandler,
    frameworkErrors,
    http: {
      requireHostHeader: false,
      // Time from connecting to complete headers. It also closes sockets that never send a byte:
      // Node counts a new connection as a request that has started. Checked this often, so a
      // socket is closed within the timeout plus one interval.
      headersTimeout: deps.config.HEADERS_TIMEOUT_MS,
      connectionsCheckingInterval: Math.min(1000, deps.config.HEADERS_TIMEOUT_MS),
    },
  });

  jsonBody(app);
  // First, so its onRequest hook also sees the requests refused by later ones (503 while draining).
  deps.instrument?.(app);
  requestContext(app, deps.lifecycle);
  connectionLimitHook(app, deps.connections);
  const scrubber = createScrubber({ secrets: deps.secrets });
  errorHandler(app, { bodyLimit: deps.config.BODY_LIMIT_BYTES, scrubber });
  const origins = deps.config.CORS_ORIGINS?.split(',').map((o) => o.trim()).filter(Boolean);
  if (origins?.length) {
    app.register(cors, {
      origin: origins,
      methods: ['GET', 'POST', 'DELETE', 'OPTIONS'],
      exposedHeaders: ['x-request-id', 'x-cache', 'retry-after', 'x-ratelimit-remaining-requests', 'x-ratelimit-remaining-tokens'],
      maxAge: 600,
    });
  }

  healthRoutes(app, deps.readiness, deps.lifecycle);

  const provider = (name: string): ProviderAdapter | undefined => deps.router.providers().find((p) => p.name === name);
  app.register(async (v1) => {
    // onRequest: the key is checked from the headers before the body is read or parsed.
    await v1.register(
      fp(
        async (scope) => {
          scope.addHook('onRequest', requireClientKey(deps.authenticator, deps.authThrottle));
        },
        { name: 'client-auth' },
      ),
    );
    const { pipeline } = deps;
    await v1.register(chatRoute, { pipeline, owners: deps.owners, provider });
    await v1.register(embeddingsRoute, { pipeline });
    await v1.register(completionsRoute, { pipeline });
    await v1.register(moderationsRoute, { pipeline });
    await v1.register(responsesRoute, { pipeline, owners: deps.owners, provider });
    await v1.register(messagesRoute, { pipeline, router: deps.router });
    await v1.register(modelsRoute, { catalog: deps.models });
    await v1.register(batchRoute, { pipeline, config: deps.config, scrubber });
    keyRoute(v1, { usage: deps.usage, limits: { rpm: deps.config.DEFAULT_RPM, tpm: deps.config.DEFAULT_TPM } });
  });

  app.register(async (admin) => {
    admin.addHook('onRequest', requireAdmin(deps.config.ADMIN_API_KEY, deps.authThrottle));
    adminKeysRoutes(admin, deps.keys);
    adminTeamsRoutes(admin, deps.teams);
    adminUsageRoute(admin, deps.usage);
  });

  return app;
}
