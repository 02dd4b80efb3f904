import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from './config';
import { requireAdmin, requireClientKey } from './plugins/auth';
import { clientErrorHandler, errorHandler, frameworkErrors } from './plugins/error-handler';
import { jsonBody } from './plugins/json-body';
import { createScrubber } from './security/scrub';
import { requestContext, requestId, type Lifecycle } from './plugins/request-context';
import { adminKeysRoutes } from './routes/admin/keys';
import { adminUsageRoute, type UsageReader } from './routes/admin/usage';
import { healthRoutes } from './routes/health';
import { batchRoute } from './routes/v1/batch';
import { chatCompletionsRoute } from './routes/v1/chat-completions';
import { embeddingsRoute } from './routes/v1/embeddings';
import { modelsRoute } from './routes/v1/models';
import type { Authenticator } from './services/authenticator';
import type { ChatService } from './services/chat';
import type { EmbeddingsService } from './services/embeddings';
import type { ModelCatalog } from './services/models';
import type { Readiness } from './services/readiness';
import type { KeyStore } from './stores/keys';

/** Everything the HTTP layer needs, built by `createServices` (or by a test). */
export interface AppDeps {
  config: Pick<Config, 'BODY_LIMIT_BYTES' | 'ADMIN_API_KEY' | 'BATCH_MAX_CONCURRENCY' | 'BATCH_MAX_ITEMS'>;
  logger: Logger;
  lifecycle: Lifecycle;
  authenticator: Authenticator;
  keys: KeyStore;
  chat: ChatService;
  embeddings: EmbeddingsService;
  models: ModelCatalog;
  usage: UsageReader;
  readiness: Readiness;
  /**
   * Every credential this process holds (provider keys, admin key, store passwords): no error body
   * may carry one, in any encoding. Values shorter than 6 characters are not looked for.
   */
  secrets: string[];
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
  errorHandler(app, { bodyLimit: deps.config.BODY_LIMIT_BYTES, scrubber: createScrubber({ secrets: deps.secrets }) });

  healthRoutes(app, deps.readiness, deps.lifecycle);

  app.register(async (v1) => {
    v1.addHook('preHandler', requireClientKey(deps.authenticator));
    chatCompletionsRoute(v1, deps.chat);
    embeddingsRoute(v1, deps.embeddings);
    modelsRoute(v1, deps.models);
    batchRoute(v1, deps.chat, deps.config);
  });

  app.register(async (admin) => {
    admin.addHook('preHandler', requireAdmin(deps.config.ADMIN_API_KEY));
    adminKeysRoutes(admin, deps.keys);
    adminUsageRoute(admin, deps.usage);
  });

  return app;
}
