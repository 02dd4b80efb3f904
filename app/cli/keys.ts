import { keyView } from '../routes/admin/views';
import type { KeySettings, KeyStore } from '../stores/keys';
import { TeamNotFoundError } from '../stores/teams';
import { CLEAR, dollars, LIMIT_OPTIONS, modelList, money, nameOption, parseOptions, positiveInt } from './options';

export const KEYS_USAGE = `usage:
  npm run keys -- create --name NAME [--rpm N] [--tpm N] [--budget TOKENS] [--monthly-usd USD] [--daily-usd USD]
                         [--team TEAM_ID] [--models a,b]
  npm run keys -- update ID [--name NAME] [same options as create; '${CLEAR}' clears one]
  npm run keys -- list
  npm run keys -- revoke ID`;

const OPTIONS = { ...LIMIT_OPTIONS, budget: { type: 'string' }, team: { type: 'string' } } as const;

function settings(values: Record<string, string | boolean | undefined>): KeySettings {
  const str = (k: string) => values[k] as string | undefined;
  return {
    rpm: positiveInt('rpm', str('rpm')),
    tpm: positiveInt('tpm', str('tpm')),
    monthlyTokenBudget: positiveInt('budget', str('budget'), Number.MAX_SAFE_INTEGER),
    monthlyBudgetUsd: dollars('monthly-usd', str('monthly-usd')),
    dailyBudgetUsd: dollars('daily-usd', str('daily-usd')),
    teamId: str('team') === undefined ? undefined : str('team') === CLEAR ? null : str('team'),
    models: modelList(str('models')),
  };
}

async function knownTeam<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof TeamNotFoundError) throw new Error(`no team with id '${err.teamId}' (npm run teams -- list)`);
    throw err;
  }
}

function describe(r: Parameters<typeof keyView>[0]): string {
  const v = keyView(r);
  const budgets =
    v.monthly_budget_usd !== null || v.daily_budget_usd !== null
      ? `  monthly=${money(v.monthly_budget_usd)} daily=${money(v.daily_budget_usd)}`
      : '';
  return `${v.id}  ${v.prefix}…  ${v.name}  rpm=${v.rpm ?? 'default'} tpm=${v.tpm ?? 'default'}${budgets}${
    v.team_id ? `  team=${v.team_id}` : ''
  }${v.revoked_at ? `  revoked ${v.revoked_at}` : ''}`;
}

/** Operator commands on keys; returns the text to print. Throws with a usage hint on bad input. */
export async function runKeysCommand(keys: KeyStore, args: string[]): Promise<string> {
  const [command, ...rest] = args;
  switch (command) {
    case 'create': {
      const { values, positionals } = parseOptions(rest, OPTIONS, KEYS_USAGE);
      if (positionals.length) throw new Error(`unexpected argument '${positionals[0]}'\n${KEYS_USAGE}`);
      if (!values.name?.trim()) throw new Error(`--name is required\n${KEYS_USAGE}`);
      const { record, key } = await knownTeam(() => keys.create({ name: values.name!.trim(), ...settings(values) }));
      return [
        `created key ${record.id} (${record.name})`,
        `key: ${key}`,
        'Store it now: it is not kept and cannot be shown again.',
      ].join('\n');
    }
    case 'update': {
      const { values, positionals } = parseOptions(rest, OPTIONS, KEYS_USAGE);
      const id = positionals[0];
      if (!id) throw new Error(`update needs a key id\n${KEYS_USAGE}`);
      const record = await knownTeam(() => keys.update(id, { name: nameOption(values.name, KEYS_USAGE), ...settings(values) }));
      if (!record) throw new Error(`no key with id '${id}'`);
      return `updated ${describe(record)}`;
    }
    case 'list': {
      const list = await keys.list();
      if (list.length === 0) return 'no keys';
      return list.map(describe).join('\n');
    }
    case 'revoke': {
      const id = rest[0];
      if (!id) throw new Error(`revoke needs a key id\n${KEYS_USAGE}`);
      if (!(await keys.revoke(id).catch(() => false))) throw new Error(`no live key with id '${id}'`);
      return `revoked ${id}`;
    }
    default:
      throw new Error(KEYS_USAGE);
  }
}
