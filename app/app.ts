import cors from '@fastify/cors';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Logger } from 'pino';
import type { Config } from './config';
import type { Pipeline } from './pipeline/pipeline';
import { requireAdmin, requireClientKey } from './plugins/auth';
import { clientErrorHandler, errorHandler, frameworkErrors } from './plugins/error-handler';
import { jsonBody } from './plugins/json-body';
import { requestContext, requestId, type Lifecycle } from './plugins/request-context';
import type { ProviderAdapter } from './providers/types';
import { adminKeysRoutes } from './routes/admin/keys';
import { adminUsageRoute, type UsageReader } from './routes/admin/usage';
import { healthRoutes } from './routes/health';
import { batchRoute } from './routes/v1/batch';
import { chatRoute } from './routes/v1/chat-completions';
import { completionsRoute } from './routes/v1/completions';
import { embeddingsRoute } from './routes/v1/embeddings';
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

/** Everything the HTTP layer needs, built by `createServices` (or by a test). */
export interface AppDeps {
  config: Pick<Config, 'BODY_LIMIT_BYTES' | 'ADMIN_API_KEY' | 'BATCH_MAX_CONCURRENCY' | 'BATCH_MAX_ITEMS' | 'CORS_ORIGINS'>;
  logger: Logger;
  lifecycle: Lifecycle;
  authenticator: Authenticator;
  keys: KeyStore;
  pipeline: Pipeline;
  router: Router;
  owners: ObjectOwners;
  models: ModelCatalog;
  usage: UsageReader;
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
    await v1.register(
      fp(
        async (scope) => {
          scope.addHook('preHandler', requireClientKey(deps.authenticator));
        },
        { name: 'client-auth' },
      ),
    );
    const { pipeline } = deps;
    await v1.register(chatRoute, { pipeline });
    await v1.register(embeddingsRoute, { pipeline });
    await v1.register(completionsRoute, { pipeline });
    await v1.register(moderationsRoute, { pipeline });
    await v1.register(responsesRoute, { pipeline, owners: deps.owners, provider });
    await v1.register(messagesRoute, { pipeline, router: deps.router });
    await v1.register(modelsRoute, { catalog: deps.models });
    await v1.register(batchRoute, { pipeline, config: deps.config });
  });

  app.register(async (admin) => {
    admin.addHook('preHandler', requireAdmin(deps.config.ADMIN_API_KEY));
    adminKeysRoutes(admin, deps.keys);
    adminUsageRoute(admin, deps.usage);
  });

  return app;
}
