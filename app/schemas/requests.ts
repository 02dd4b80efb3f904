import { z } from 'zod';
import { InvalidRequestError } from '../errors';

/**
 * Request bodies, checked before anything is spent. Only the fields the gateway relies on are
 * described; everything else passes through to the upstream untouched (loose objects).
 */
const message = z.looseObject({
  role: z.string().min(1),
});

export const tokenCount = z.number().int().min(1).max(10_000_000);
/** Model ids are names, and they reach logs and the usage table (Postgres text refuses NUL). */
export const modelId = z
  .string()
  .min(1)
  .max(256)
  .regex(/^[^\u0000-\u001f\u007f]+$/, 'must not contain control characters');
/** The api_keys columns are 32-bit integers. */
const perMinute = z.number().int().min(1).max(2_147_483_647);

export const chatCompletionBody = z.looseObject({
  model: modelId,
  messages: z.array(message).min(1),
  stream: z.boolean().nullish(),
  stream_options: z.looseObject({ include_usage: z.boolean().optional() }).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  n: z.number().int().min(1).max(128).nullish(),
  max_tokens: tokenCount.nullish(),
  max_completion_tokens: tokenCount.nullish(),
});
export type ChatCompletionBody = z.infer<typeof chatCompletionBody>;

export const embeddingsBody = z.looseObject({
  model: modelId,
  input: z.union([
    z.string(),
    z.array(z.string()).min(1),
    z.array(z.number().int()).min(1),
    z.array(z.array(z.number().int()).min(1)).min(1),
  ]),
  encoding_format: z.enum(['float', 'base64']).optional(),
  dimensions: z.number().int().min(1).optional(),
});
export type EmbeddingsBody = z.infer<typeof embeddingsBody>;

export const batchBody = z.object({
  requests: z.array(z.unknown()).min(1),
  max_concurrency: z.number().int().min(1).optional(),
});

const name = z.string().trim().min(1).max(200).regex(/^[^\u0000]*$/, 'must not contain NUL characters');
/** Dollars; the limiter counts micro-dollars exactly up to 2^53, so budgets stop at $1e9. */
const usd = z.number().positive().max(1_000_000_000);
const modelList = z.array(modelId).min(1);

/** Limits and budgets shared by key and team bodies; null clears a setting on PATCH. */
const limitFields = {
  rpm: perMinute.nullish(),
  tpm: perMinute.nullish(),
  monthly_budget_usd: usd.nullish(),
  daily_budget_usd: usd.nullish(),
  models: modelList.nullish(),
};

const keyFields = {
  ...limitFields,
  monthly_token_budget: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).nullish(),
  team_id: z.uuid().nullish(),
};

export const createKeyBody = z.object({ name, ...keyFields });
/** Strict: a misspelt field must not read as "nothing to change". */
export const updateKeyBody = z.strictObject({ name: name.optional(), ...keyFields });
export const createTeamBody = z.object({ name, ...limitFields });
export const updateTeamBody = z.strictObject({ name: name.optional(), ...limitFields });

const isoDate = z.iso.datetime({ offset: true }).or(z.iso.date());
export const usageQuery = z.object({
  key_id: z.uuid().optional(),
  team_id: z.uuid().optional(),
  model: modelId.optional(),
  since: isoDate.optional(),
  until: isoDate.optional(),
  group_by: z.enum(['key', 'team', 'model', 'day']).optional(),
  format: z.enum(['json', 'csv']).optional(),
});

/** OpenAI names nested fields like `messages[0].role`. */
function paramName(path: readonly PropertyKey[]): string | null {
  if (path.length === 0) return null;
  return path.reduce<string>(
    (acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${String(p)}` : String(p)),
    '',
  );
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = root;
  for (const p of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[p];
  }
  return v;
}

/** Validates `value`, or throws a 400 naming the first offending field. */
export function parseBody<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  if (value === undefined || value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidRequestError('The request body must be a JSON object.');
  }
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const param = paramName(issue.path);
  const missing = valueAt(value, issue.path) === undefined;
  const message = missing
    ? `Missing required parameter: '${param}'.`
    : `Invalid value for '${param ?? 'body'}': ${issue.message}.`;
  throw new InvalidRequestError(message, param, missing ? 'missing_required_parameter' : 'invalid_value');
}
