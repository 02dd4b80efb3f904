import type { FastifyInstance } from 'fastify';
import { InvalidRequestError, NotFoundError } from '../../errors';
import { createTeamBody, parseBody, updateTeamBody } from '../../schemas/requests';
import type { TeamInput, TeamStore } from '../../stores/teams';
import { teamView } from './views';

function teamInput(body: {
  name?: string;
  rpm?: number | null;
  tpm?: number | null;
  monthly_budget_usd?: number | null;
  daily_budget_usd?: number | null;
  models?: string[] | null;
}): TeamInput {
  return {
    name: body.name,
    rpm: body.rpm,
    tpm: body.tpm,
    monthlyBudgetUsd: body.monthly_budget_usd,
    dailyBudgetUsd: body.daily_budget_usd,
    models: body.models,
  };
}

/** Teams: limits and dollar budgets their keys share. Changes reach every replica within the key cache TTL. */
export function adminTeamsRoutes(app: FastifyInstance, teams: TeamStore) {
  app.post('/admin/teams', async (request, reply) => {
    const body = parseBody(createTeamBody, request.body);
    const team = await teams.create({ ...teamInput(body), name: body.name });
    request.log.info({ teamId: team.id, name: team.name }, 'team created');
    return reply.code(201).send(teamView(team));
  });

  app.get('/admin/teams', async (request) => {
    return { object: 'list', data: (await teams.list()).map(teamView) };
  });

  app.get<{ Params: { id: string } }>('/admin/teams/:id', async (request) => {
    const team = await teams.get(request.params.id);
    if (!team) throw new NotFoundError(`No team with id '${request.params.id}'.`);
    return teamView(team);
  });

  app.patch<{ Params: { id: string } }>('/admin/teams/:id', async (request) => {
    const body = parseBody(updateTeamBody, request.body);
    const team = await teams.update(request.params.id, teamInput(body));
    if (!team) throw new NotFoundError(`No team with id '${request.params.id}'.`);
    request.log.info({ teamId: team.id, fields: Object.keys(body) }, 'team changed');
    return teamView(team);
  });

  app.delete<{ Params: { id: string } }>('/admin/teams/:id', async (request, reply) => {
    const { id } = request.params;
    const outcome = await teams.delete(id);
    if (outcome === 'not_found') throw new NotFoundError(`No team with id '${id}'.`);
    if (outcome === 'has_keys') {
      throw new InvalidRequestError(
        `Team '${id}' still has live keys: move them to another team (PATCH /admin/keys/{id} with team_id) or revoke them first.`,
        null,
        'team_not_empty',
      );
    }
    request.log.info({ teamId: id }, 'team deleted');
    return reply.code(204).send();
  });
}
