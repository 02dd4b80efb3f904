import { teamView } from '../routes/admin/views';
import type { TeamInput, TeamStore } from '../stores/teams';
import type { TeamRecord } from '../stores/types';
import { CLEAR, dollars, LIMIT_OPTIONS, modelList, money, nameOption, parseOptions, positiveInt } from './options';

export const TEAMS_USAGE = `usage:
  npm run teams -- create --name NAME [--rpm N] [--tpm N] [--monthly-usd USD] [--daily-usd USD] [--models a,b]
  npm run teams -- update ID [--name NAME] [same options as create; '${CLEAR}' clears one]
  npm run teams -- list
  npm run teams -- show ID
  npm run teams -- delete ID
Keys join a team with: npm run keys -- update KEY_ID --team TEAM_ID`;

function input(values: Record<string, string | boolean | undefined>): TeamInput {
  const str = (k: string) => values[k] as string | undefined;
  return {
    name: nameOption(str('name'), TEAMS_USAGE),
    rpm: positiveInt('rpm', str('rpm')),
    tpm: positiveInt('tpm', str('tpm')),
    monthlyBudgetUsd: dollars('monthly-usd', str('monthly-usd')),
    dailyBudgetUsd: dollars('daily-usd', str('daily-usd')),
    models: modelList(str('models')),
  };
}

function describe(t: TeamRecord): string {
  const v = teamView(t);
  return `${v.id}  ${v.name}  rpm=${v.rpm ?? 'none'} tpm=${v.tpm ?? 'none'}  monthly=${money(v.monthly_budget_usd)} daily=${money(
    v.daily_budget_usd,
  )}  models=${v.models ? v.models.join(',') : 'all'}`;
}

/** Operator commands on teams; returns the text to print. Throws with a usage hint on bad input. */
export async function runTeamsCommand(teams: TeamStore, args: string[]): Promise<string> {
  const [command, ...rest] = args;
  const { values, positionals } = parseOptions(rest, LIMIT_OPTIONS, TEAMS_USAGE);
  const id = positionals[0];
  const needId = () => {
    if (!id) throw new Error(`${command} needs a team id\n${TEAMS_USAGE}`);
    return id;
  };
  switch (command) {
    case 'create': {
      const fields = input(values);
      if (!fields.name) throw new Error(`--name is required\n${TEAMS_USAGE}`);
      return `created team ${describe(await teams.create({ ...fields, name: fields.name }))}`;
    }
    case 'update': {
      const team = await teams.update(needId(), input(values));
      if (!team) throw new Error(`no team with id '${id}'`);
      return `updated ${describe(team)}`;
    }
    case 'show': {
      const team = await teams.get(needId());
      if (!team) throw new Error(`no team with id '${id}'`);
      return describe(team);
    }
    case 'list': {
      const list = await teams.list();
      return list.length ? list.map(describe).join('\n') : 'no teams';
    }
    case 'delete': {
      const outcome = await teams.delete(needId());
      if (outcome === 'not_found') throw new Error(`no team with id '${id}'`);
      if (outcome === 'has_keys') throw new Error(`team '${id}' still has live keys: move them (npm run keys -- update KEY_ID --team none) or revoke them first`);
      return `deleted team ${id}`;
    }
    default:
      throw new Error(TEAMS_USAGE);
  }
}
