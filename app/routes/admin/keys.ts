import type { FastifyInstance } from 'fastify';
import { InvalidRequestError, NotFoundError } from '../../errors';
import { createKeyBody, parseBody, updateKeyBody } from '../../schemas/requests';
import type { KeySettings, KeyStore } from '../../stores/keys';
import { TeamNotFoundError } from '../../stores/teams';
import { keyView } from './views';

export { keyView } from './views';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** snake_case body fields to the store's settings; absent stays absent (PATCH leaves it alone). */
export function keySettings(body: {
  rpm?: number | null;
  tpm?: number | null;
  monthly_token_budget?: number | null;
  monthly_budget_usd?: number | null;
  daily_budget_usd?: number | null;
  team_id?: string | null;
  models?: string[] | null;
}): KeySettings {
  return {
    rpm: body.rpm,
    tpm: body.tpm,
    monthlyTokenBudget: body.monthly_token_budget,
    monthlyBudgetUsd: body.monthly_budget_usd,
    dailyBudgetUsd: body.daily_budget_usd,
    teamId: body.team_id,
    models: body.models,
  };
}

/** The store's TeamNotFoundError as the caller's 400 on `team_id`. */
export async function withKnownTeam<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof TeamNotFoundError) {
      throw new InvalidRequestError(`No team with id '${err.teamId}'.`, 'team_id', 'invalid_value');
    }
    throw err;
  }
}

export function adminKeysRoutes(app: FastifyInstance, keys: KeyStore) {
  app.post('/admin/keys', async (request, reply) => {
    const body = parseBody(createKeyBody, request.body);
    const { record, key } = await withKnownTeam(() => keys.create({ name: body.name, ...keySettings(body) }));
    request.log.info({ keyId: record.id, name: record.name, teamId: record.teamId }, 'api key created');
    return reply.code(201).header('cache-control', 'no-store').send({ ...keyView(record), key });
  });

  app.get('/admin/keys', async (request) => {
    return { object: 'list', data: (await keys.list()).map(keyView) };
  });

  app.patch<{ Params: { id: string } }>('/admin/keys/:id', async (request) => {
    const body = parseBody(updateKeyBody, request.body);
    const { id } = request.params;
    const record = await withKnownTeam(() => keys.update(id, { name: body.name, ...keySettings(body) }));
    if (!record) throw new NotFoundError(`No key with id '${id}'.`);
    request.log.info({ keyId: id, fields: Object.keys(body) }, 'api key changed');
    return keyView(record);
  });

  app.delete<{ Params: { id: string } }>('/admin/keys/:id', async (request, reply) => {
    const { id } = request.params;
    if (!UUID.test(id) || !(await keys.revoke(id))) throw new NotFoundError(`No live key with id '${id}'.`);
    request.log.info({ keyId: id }, 'api key revoked');
    return reply.code(204).send();
  });
}
