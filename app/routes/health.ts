import type { FastifyInstance } from 'fastify';
import type { Lifecycle } from '../plugins/request-context';
import type { Readiness } from '../services/readiness';

export function healthRoutes(app: FastifyInstance, readiness: Readiness, lifecycle: Lifecycle) {
  // Liveness: no dependency calls, so a slow database never gets a healthy task killed.
  app.get('/health', async (request) => {
    return { status: 'ok' };
  });

  app.get('/ready', async (request, reply) => {
    const report = await readiness.check();
    const ready = report.ready && !lifecycle.draining;
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready', checks: report.checks });
  });
}
