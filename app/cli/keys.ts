import { parseArgs } from 'node:util';
import { keyView } from '../routes/admin/keys';
import type { KeyStore } from '../stores/keys';

export const KEYS_USAGE = `usage:
  npm run keys -- create --name NAME [--rpm N] [--tpm N] [--budget TOKENS] [--models a,b]
  npm run keys -- list
  npm run keys -- revoke ID`;

const INT32_MAX = 2_147_483_647;

/** Bounded like the columns they land in (integer for rpm/tpm, bigint for the budget). */
function positiveInt(name: string, value: string | undefined, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1 || n > max) {
    throw new Error(`--${name} must be a whole number from 1 to ${max}, got '${value}'`);
  }
  return n;
}

/** Operator commands on keys; returns the text to print. Throws with a usage hint on bad input. */
const CREATE_OPTIONS = {
  name: { type: 'string' },
  rpm: { type: 'string' },
  tpm: { type: 'string' },
  budget: { type: 'string' },
  models: { type: 'string' },
} as const;

function parseCreateArgs(args: string[]) {
  try {
    return parseArgs({ args, options: CREATE_OPTIONS });
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${KEYS_USAGE}`);
  }
}

export async function runKeysCommand(keys: KeyStore, args: string[]): Promise<string> {
  const [command, ...rest] = args;
  switch (command) {
    case 'create': {
      const { values } = parseCreateArgs(rest);
      if (!values.name?.trim()) throw new Error(`--name is required\n${KEYS_USAGE}`);
      const { record, key } = await keys.create({
        name: values.name.trim(),
        rpm: positiveInt('rpm', values.rpm, INT32_MAX),
        tpm: positiveInt('tpm', values.tpm, INT32_MAX),
        monthlyTokenBudget: positiveInt('budget', values.budget, Number.MAX_SAFE_INTEGER),
        models: values.models ? values.models.split(',').map((m) => m.trim()).filter(Boolean) : undefined,
      });
      return [
        `created key ${record.id} (${record.name})`,
        `key: ${key}`,
        'Store it now: it is not kept and cannot be shown again.',
      ].join('\n');
    }
    case 'list': {
      const list = await keys.list();
      if (list.length === 0) return 'no keys';
      return list
        .map((r) => {
          const v = keyView(r);
          return `${v.id}  ${v.prefix}…  ${v.name}  rpm=${v.rpm ?? 'default'} tpm=${v.tpm ?? 'default'}${
            v.revoked_at ? `  revoked ${v.revoked_at}` : ''
          }`;
        })
        .join('\n');
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
