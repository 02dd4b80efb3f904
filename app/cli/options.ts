import { parseArgs, type ParseArgsConfig } from 'node:util';

const INT32_MAX = 2_147_483_647;
/** The limiter counts micro-dollars exactly up to 2^53 (see the admin schema). */
const USD_MAX = 1_000_000_000;

/** `none` clears a setting on update; absent leaves it alone. */
export const CLEAR = 'none';

/** The options keys and teams share; each maps to a column bounded as the column is. */
export const LIMIT_OPTIONS = {
  name: { type: 'string' },
  rpm: { type: 'string' },
  tpm: { type: 'string' },
  'monthly-usd': { type: 'string' },
  'daily-usd': { type: 'string' },
  models: { type: 'string' },
} as const;

export function parseOptions<O extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: O, usage: string) {
  try {
    return parseArgs({ args, options, allowPositionals: true });
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${usage}`);
  }
}

function clearable<T>(value: string | undefined, parse: (v: string) => T): T | null | undefined {
  if (value === undefined) return undefined;
  if (value === CLEAR) return null;
  return parse(value);
}

/** Bounded like the columns they land in (integer for rpm/tpm, bigint for a token budget). */
export function positiveInt(name: string, value: string | undefined, max = INT32_MAX): number | null | undefined {
  return clearable(value, (v) => {
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < 1 || n > max) throw new Error(`--${name} must be a whole number from 1 to ${max}, got '${v}'`);
    return n;
  });
}

export function dollars(name: string, value: string | undefined): number | null | undefined {
  return clearable(value, (v) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0 || n > USD_MAX || v.trim() === '') {
      throw new Error(`--${name} must be an amount in USD above 0 and up to ${USD_MAX}, got '${v}'`);
    }
    return n;
  });
}

export function modelList(value: string | undefined): string[] | null | undefined {
  return clearable(value, (v) => {
    const list = v.split(',').map((m) => m.trim()).filter(Boolean);
    if (list.length === 0) throw new Error(`--models must name at least one model (or '${CLEAR}' for all), got '${v}'`);
    return list;
  });
}

/** `--name` trimmed; undefined when absent, an error when blank. */
export function nameOption(value: string | undefined, usage: string): string | undefined {
  if (value === undefined) return undefined;
  if (!value.trim()) throw new Error(`--name must not be blank\n${usage}`);
  return value.trim();
}

export function money(v: number | null): string {
  return v === null ? 'none' : `$${v}`;
}
