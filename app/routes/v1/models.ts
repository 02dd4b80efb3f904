import type { FastifyInstance } from 'fastify';
import type { ModelCatalog } from '../../services/models';

/** The upstream's models, narrowed to the key's allow-list. */
export function modelsRoute(app: FastifyInstance, catalog: ModelCatalog) {
  app.get('/v1/models', async (request) => {
    request.stats.route = '/v1/models';
    const list = await catalog.list(request.stats);
    const allowed = request.apiKey?.models;
    return allowed ? { ...list, data: list.data.filter((m) => allowed.includes(m.id)) } : list;
  });
}
