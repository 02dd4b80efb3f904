/**
 * The routing document (DESIGN.md "Routing document") as the stage config carries it, and what the
 * infrastructure derives from it: provider-key secrets, the secrets the app reads itself, and the
 * Bedrock model ARNs the task role may invoke.
 */

export interface OpenAiProvider {
  readonly type: 'openai';
  readonly base_url: string;
  readonly api_key_env?: string;
  readonly api_key_secret_id?: string;
  readonly auth_header?: string;
  readonly headers?: Record<string, string>;
}

export interface AnthropicProvider {
  readonly type: 'anthropic';
  readonly base_url?: string;
  readonly api_key_env?: string;
  readonly api_key_secret_id?: string;
}

export interface BedrockProvider {
  readonly type: 'bedrock';
  readonly region: string;
  readonly endpoint?: string;
}

export interface MockProvider {
  readonly type: 'mock';
}

export type ProviderConfig = OpenAiProvider | AnthropicProvider | BedrockProvider | MockProvider;

export interface Deployment {
  readonly provider: string;
  /** The provider's model id; default: the public name. */
  readonly model?: string;
  readonly weight?: number;
  readonly priority?: number;
  readonly rpm?: number;
  readonly tpm?: number;
  readonly price?: unknown;
}

export interface ModelRoute {
  readonly deployments: Deployment[];
  readonly fallbacks?: string[];
}

export interface RoutingDocument {
  readonly providers: Record<string, ProviderConfig>;
  readonly models: Record<string, ModelRoute>;
}

/**
 * Regions each cross-region inference profile prefix routes to. Bedrock checks the caller's
 * permission on the foundation model in whichever of these regions serves the request.
 * Source: Bedrock user guide, "Supported Regions and models for inference profiles".
 */
export const INFERENCE_PROFILE_REGIONS: Record<string, readonly string[]> = {
  us: ['us-east-1', 'us-east-2', 'us-west-2'],
  'us-gov': ['us-gov-east-1', 'us-gov-west-1'],
  eu: ['eu-central-1', 'eu-north-1', 'eu-south-1', 'eu-south-2', 'eu-west-1', 'eu-west-3'],
  apac: ['ap-northeast-1', 'ap-northeast-2', 'ap-northeast-3', 'ap-south-1', 'ap-south-2', 'ap-southeast-1', 'ap-southeast-2', 'ap-southeast-4'],
  jp: ['ap-northeast-1', 'ap-northeast-3'],
  au: ['ap-southeast-2', 'ap-southeast-4'],
  ca: ['ca-central-1', 'ca-west-1'],
};

/** `api_key_env` of every provider that names one, sorted, without duplicates. */
export function providerKeyEnvs(doc: RoutingDocument): string[] {
  const names = Object.values(doc.providers).flatMap((p) => ('api_key_env' in p && p.api_key_env ? [p.api_key_env] : []));
  return [...new Set(names)].sort();
}

/** `api_key_secret_id` of every provider that names one (the app reads these at boot). */
export function providerSecretIds(doc: RoutingDocument): string[] {
  const ids = Object.values(doc.providers).flatMap((p) => ('api_key_secret_id' in p && p.api_key_secret_id ? [p.api_key_secret_id] : []));
  return [...new Set(ids)].sort();
}

export interface BedrockModel {
  /** The id the app sends, e.g. `us.anthropic.claude-sonnet-4-5-20250929-v1:0` or `amazon.titan-embed-text-v2:0`. */
  readonly id: string;
  /** The provider's region (where the app calls bedrock-runtime). */
  readonly region: string;
}

/** Every model id routed to a Bedrock provider, with that provider's region. */
export function bedrockModels(doc: RoutingDocument): BedrockModel[] {
  const seen = new Map<string, BedrockModel>();
  for (const [publicName, route] of Object.entries(doc.models)) {
    for (const d of route.deployments) {
      const provider = doc.providers[d.provider];
      if (provider?.type !== 'bedrock') continue;
      const id = d.model ?? publicName;
      seen.set(`${provider.region} ${id}`, { id, region: provider.region });
    }
  }
  return [...seen.values()].sort((a, b) => `${a.region} ${a.id}`.localeCompare(`${b.region} ${b.id}`));
}

/** The geography prefix of an inference profile id (`us.` in `us.anthropic.…`), else undefined. */
export function inferenceProfilePrefix(modelId: string): string | undefined {
  const prefix = modelId.split('.')[0];
  return modelId.includes('.') && prefix in INFERENCE_PROFILE_REGIONS ? prefix : undefined;
}

/**
 * ARNs `bedrock:InvokeModel*` must allow for the models, in partition `partition` and account
 * `account`: a foundation model's ARN in its provider's region; for an inference profile the
 * profile's ARN in the account and the foundation model's ARN in every region it spans.
 */
export function bedrockResourceArns(models: BedrockModel[], account: string, partition = 'aws'): string[] {
  const arns = new Set<string>();
  for (const { id, region } of models) {
    const prefix = inferenceProfilePrefix(id);
    if (prefix) {
      arns.add(`arn:${partition}:bedrock:${region}:${account}:inference-profile/${id}`);
      const foundation = id.slice(prefix.length + 1);
      for (const r of INFERENCE_PROFILE_REGIONS[prefix]) arns.add(`arn:${partition}:bedrock:${r}::foundation-model/${foundation}`);
    } else {
      arns.add(`arn:${partition}:bedrock:${region}::foundation-model/${id}`);
    }
  }
  return [...arns];
}

/** Problems with a routing document, each naming the bad value. */
export function routingProblems(doc: RoutingDocument): string[] {
  const problems: string[] = [];
  for (const [name, p] of Object.entries(doc.providers)) {
    if ((p.type === 'openai' || p.type === 'anthropic') && p.api_key_env && p.api_key_secret_id) {
      problems.push(`routing.providers.${name} names both api_key_env and api_key_secret_id; keep one`);
    }
    if ((p.type === 'openai' || p.type === 'anthropic') && p.api_key_env && !/^[A-Z][A-Z0-9_]*$/.test(p.api_key_env)) {
      problems.push(`routing.providers.${name}.api_key_env "${p.api_key_env}" must be an UPPER_SNAKE environment name`);
    }
    if (p.type === 'bedrock' && !/^[a-z]{2}(-gov)?-[a-z]+-\d$/.test(p.region)) {
      problems.push(`routing.providers.${name}.region "${p.region}" is not an AWS region name`);
    }
  }
  for (const m of bedrockModels(doc)) {
    if (m.id.startsWith('global.')) {
      problems.push(`routing: Bedrock model "${m.id}" is a global inference profile; lib/routing.ts knows the regions of geographic profiles (${Object.keys(INFERENCE_PROFILE_REGIONS).join(', ')}) only`);
    }
  }
  for (const [model, route] of Object.entries(doc.models)) {
    if (route.deployments.length === 0) problems.push(`routing.models.${model} has no deployments`);
    for (const d of route.deployments) {
      if (!doc.providers[d.provider]) problems.push(`routing.models.${model} uses provider "${d.provider}", which routing.providers does not define`);
    }
    for (const f of route.fallbacks ?? []) {
      if (!doc.models[f]) problems.push(`routing.models.${model} falls back to "${f}", which routing.models does not define`);
    }
  }
  return problems;
}
