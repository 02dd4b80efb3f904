import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

/**
 * The routing document (MODELS_FILE or MODELS_CONFIG): named providers, and public model names
 * mapped to deployments on them. Types are derived from this schema; nothing else parses it.
 */

const secretRef = {
  /** Name of the environment variable holding the provider's key. */
  api_key_env: z.string().min(1).optional(),
  /** Secrets Manager id of the provider's key, read once at boot. */
  api_key_secret_id: z.string().min(1).optional(),
};

const providerSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('openai'),
    base_url: z.url(),
    ...secretRef,
    /** Header carrying the key raw (Azure: `api-key`); default `Authorization: Bearer`. */
    auth_header: z.string().min(1).optional(),
    headers: z.record(z.string(), z.string()).optional(),
  }),
  z.strictObject({ type: z.literal('bedrock'), region: z.string().min(1), endpoint: z.url().optional() }),
  z.strictObject({ type: z.literal('anthropic'), ...secretRef, base_url: z.url().optional() }),
  z.strictObject({ type: z.literal('mock') }),
]);

const perMillion = z.number().min(0);
export const priceSchema = z.strictObject({
  input: perMillion,
  output: perMillion,
  cached_input: perMillion.optional(),
  cache_write: perMillion.optional(),
});

const deploymentSchema = z.strictObject({
  provider: z.string().min(1),
  /** The provider's model id; default: the public name. */
  model: z.string().min(1).optional(),
  weight: z.number().positive().default(1),
  /** Lower is tried first. */
  priority: z.number().int().default(0),
  rpm: z.number().int().positive().optional(),
  tpm: z.number().int().positive().optional(),
  price: priceSchema.optional(),
});

const modelSchema = z.strictObject({
  deployments: z.array(deploymentSchema).min(1),
  /** Other public names, tried in order once every deployment of this one failed. */
  fallbacks: z.array(z.string().min(1)).default([]),
});

export const routingDocumentSchema = z.strictObject({
  providers: z.record(z.string().min(1), providerSchema),
  models: z.record(z.string().min(1), modelSchema),
});

export type RoutingDocument = z.infer<typeof routingDocumentSchema>;
export type ProviderConfig = z.infer<typeof providerSchema>;
export type DeploymentConfig = z.infer<typeof deploymentSchema>;
export type Price = z.infer<typeof priceSchema>;

export class RoutingConfigError extends Error {}

/** `models.claude.deployments[0].provider` */
function pathName(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${String(p)}` : String(p)),
    '',
  );
}

/** Validates a parsed document; throws a RoutingConfigError naming every bad path. */
export function parseRoutingDocument(value: unknown): RoutingDocument {
  const result = routingDocumentSchema.safeParse(value);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${pathName(i.path) || '(document)'}: ${i.message}`);
    throw new RoutingConfigError(`invalid routing document: ${problems.join('; ')}`);
  }
  const doc = result.data;
  const problems: string[] = [];
  for (const [name, model] of Object.entries(doc.models)) {
    model.deployments.forEach((d, i) => {
      if (!doc.providers[d.provider]) {
        problems.push(`models.${name}.deployments[${i}].provider: unknown provider '${d.provider}'`);
      }
    });
    model.fallbacks.forEach((f, i) => {
      if (f === name) problems.push(`models.${name}.fallbacks[${i}]: a model cannot fall back to itself`);
      else if (f === '*' || !doc.models[f]) problems.push(`models.${name}.fallbacks[${i}]: unknown model '${f}'`);
    });
  }
  if (problems.length) throw new RoutingConfigError(`invalid routing document: ${problems.join('; ')}`);
  return doc;
}

/** Reads MODELS_FILE (JSON or YAML) or MODELS_CONFIG (inline JSON); undefined when neither is set. */
export function loadRoutingDocument(opts: { file?: string; inline?: string }): RoutingDocument | undefined {
  let raw: unknown;
  if (opts.inline !== undefined) {
    try {
      raw = JSON.parse(opts.inline);
    } catch (err) {
      throw new RoutingConfigError(`MODELS_CONFIG is not valid JSON: ${(err as Error).message}`);
    }
  } else if (opts.file !== undefined) {
    let text: string;
    try {
      text = readFileSync(opts.file, 'utf8');
    } catch (err) {
      throw new RoutingConfigError(`MODELS_FILE ${opts.file} cannot be read: ${(err as NodeJS.ErrnoException).code}`);
    }
    try {
      raw = /\.ya?ml$/i.test(opts.file) ? parseYaml(text) : JSON.parse(text);
    } catch (err) {
      throw new RoutingConfigError(`MODELS_FILE ${opts.file} cannot be parsed: ${(err as Error).message}`);
    }
  } else return undefined;
  return parseRoutingDocument(raw);
}

/**
 * Without a document: one provider serving every model name — the configured OpenAI-compatible
 * upstream, or the offline mock — exactly as before routing existed.
 */
export function defaultRoutingDocument(
  upstream: { baseUrl?: string; apiKeyEnv?: boolean; apiKeySecretId?: string } | 'mock',
): RoutingDocument {
  const provider: ProviderConfig =
    upstream === 'mock'
      ? { type: 'mock' }
      : {
          type: 'openai',
          base_url: upstream.baseUrl ?? 'https://api.openai.com/v1',
          ...(upstream.apiKeyEnv ? { api_key_env: 'OPENAI_API_KEY' } : {}),
          ...(upstream.apiKeySecretId ? { api_key_secret_id: upstream.apiKeySecretId } : {}),
        };
  return {
    providers: { default: provider },
    models: { '*': { deployments: [{ provider: 'default', weight: 1, priority: 0 }], fallbacks: [] } },
  };
}
