import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from './config';
import { requireAdmin, requireClientKey } from './plugins/auth';
import { clientErrorHandler, errorHandler, frameworkErrors } from './plugins/error-handler';
import { jsonBody } from './plugins/json-body';
import { requestContext, requestId, type Lifecycle } from './plugins/request-context';
import { adminKeysRoutes } from './routes/admin/keys';
import { adminTeamsRoutes } from './routes/admin/teams';
import { adminUsageRoute, type UsageReader } from './routes/admin/usage';
import { healthRoutes } from './routes/health';
import { batchRoute } from './routes/v1/batch';
import { chatCompletionsRoute } from './routes/v1/chat-completions';
import { embeddingsRoute } from './routes/v1/embeddings';
import { keyRoute } from './routes/v1/key';
import { modelsRoute } from './routes/v1/models';
import type { Authenticator } from './services/authenticator';
import type { ChatService } from './services/chat';
import type { EmbeddingsService } from './services/embeddings';
import type { ModelCatalog } from './services/models';
import type { Readiness } from './services/readiness';
import type { KeyStore } from './stores/keys';
import type { TeamStore } from './stores/teams';
import type { UsageQuery } from './stores/usage-query';

/** Everything the HTTP layer needs, built by `createServices` (or by a test). */
export interface AppDeps {
  config: Pick<
    Config,
    'BODY_LIMIT_BYTES' | 'ADMIN_API_KEY' | 'BATCH_MAX_CONCURRENCY' | 'BATCH_MAX_ITEMS' | 'DEFAULT_RPM' | 'DEFAULT_TPM'
  >;
  logger: Logger;
  lifecycle: Lifecycle;
  authenticator: Authenticator;
  keys: KeyStore;
  teams: TeamStore;
  chat: ChatService;
  embeddings: EmbeddingsService;
  models: ModelCatalog;
  usage: UsageReader & Pick<UsageQuery, 'spendSince' | 'monthTokens'>;
  readiness: Readiness;
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
    // Behind the ALB, which keeps connections open up to its idle timeout: stay open longer.
    keepAliveTimeout: 310_000,
    // Time to receive a whole request (headers and body), not to answer it: a client trickling its
    // body cannot hold a connection forever, while long streams are unaffected.
    requestTimeout: 60_000,
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    // Requests Node or the router refuse still get an ErrorResponse (a missing Host: request-context).
    clientErrorHandler,
    frameworkErrors,
    http: { requireHostHeader: false },
  });

  jsonBody(app);
  // First, so its onRequest hook also sees the requests refused by later ones (503 while draining).
  deps.instrument?.(app);
  requestContext(app, deps.lifecycle);
  errorHandler(app, deps.config.BODY_LIMIT_BYTES);

  healthRoutes(app, deps.readiness, deps.lifecycle);

  app.register(async (v1) => {
    v1.addHook('preHandler', requireClientKey(deps.authenticator));
    chatCompletionsRoute(v1, deps.chat);
    embeddingsRoute(v1, deps.embeddings);
    modelsRoute(v1, deps.models);
    batchRoute(v1, deps.chat, deps.config);
    keyRoute(v1, { usage: deps.usage, limits: { rpm: deps.config.DEFAULT_RPM, tpm: deps.config.DEFAULT_TPM } });
  });

  app.register(async (admin) => {
    admin.addHook('preHandler', requireAdmin(deps.config.ADMIN_API_KEY));
    adminKeysRoutes(admin, deps.keys);
    adminTeamsRoutes(admin, deps.teams);
    adminUsageRoute(admin, deps.usage);
  });

  return app;
}
