import fp from 'fastify-plugin';
import { NotFoundError } from '../../errors';
import type { ModelCatalog } from '../../services/models';
import { modelAllowed } from '../../services/model-access';

/** The model names this key may use: the routing document's, narrowed to the key's and its team's allow-lists. */
export const modelsRoute = fp<{ catalog: ModelCatalog }>(
  async (app, { catalog }) => {
    app.get('/v1/models', async (request) => {
      const list = await catalog.list();
      const key = request.apiKey!;
      return { ...list, data: list.data.filter((m) => modelAllowed(key, m.id)) };
    });

    app.get('/v1/models/*', async (request) => {
      const id = (request.params as { '*': string })['*'];
      const model = modelAllowed(request.apiKey!, id) ? await catalog.get(id) : undefined;
      if (!model) throw new NotFoundError(`The model '${id}' does not exist or you do not have access to it.`, 'model_not_found');
      return model;
    });
  },
  { name: 'route-models', fastify: '5.x', dependencies: ['client-auth'] },
);
