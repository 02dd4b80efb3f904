import type { FastifyInstance } from 'fastify';
import { NotFoundError } from '../../errors';
import { createKeyBody, parseBody } from '../../schemas/requests';
import type { KeyStore } from '../../stores/keys';
import type { ApiKeyRecord } from '../../stores/types';

/** The public view of a key: never its hash, and its plaintext only when just created. */
export function keyView(r: ApiKeyRecord) {
  return {
    id: r.id,
    object: 'api_key',
    name: r.name,
    prefix: r.prefix,
    rpm: r.rpm,
    tpm: r.tpm,
    monthly_token_budget: r.monthlyTokenBudget,
    models: r.models,
    created_at: r.createdAt.toISOString(),
    revoked_at: r.revokedAt ? r.revokedAt.toISOString() : null,
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function adminKeysRoutes(app: FastifyInstance, keys: KeyStore) {
  app.post('/admin/keys', async (request, reply) => {
    const body = parseBody(createKeyBody, request.body);
    const { record, key } = await keys.create({
      name: body.name,
      rpm: body.rpm,
      tpm: body.tpm,
      monthlyTokenBudget: body.monthly_token_budget,
      models: body.models,
    });
    request.log.info({ keyId: record.id, name: record.name }, 'api key created');
    return reply.code(201).header('cache-control', 'no-store').send({ ...keyView(record), key });
  });

  app.get('/admin/keys', async (request) => {
    return { object: 'list', data: (await keys.list()).map(keyView) };
  });

  app.delete<{ Params: { id: string } }>('/admin/keys/:id', async (request, reply) => {
    const { id } = request.params;
    if (!UUID.test(id) || !(await keys.revoke(id))) throw new NotFoundError(`No live key with id '${id}'.`);
    request.log.info({ keyId: id }, 'api key revoked');
    return reply.code(204).send();
  });
}
