import type { Config } from '../config';
import type { ProviderConfig, RoutingDocument } from '../routing/document';
import { createAnthropicProvider } from './anthropic';
import { createMockProvider } from './mock';
import { createOpenAIProvider } from './openai';
import type { ProviderAdapter } from './types';

export interface ProviderRegistryDeps {
  config: Pick<Config, 'UPSTREAM_TIMEOUT_MS' | 'UPSTREAM_IDLE_TIMEOUT_MS' | 'UPSTREAM_MAX_CONNECTIONS' | 'AWS_REGION'>;
  env: NodeJS.ProcessEnv;
  readSecret(secretId: string): Promise<string>;
}

export interface ProviderRegistry {
  byName: Map<string, ProviderAdapter>;
  /** Every credential the providers hold: errors and logs are scrubbed of them. */
  secrets: string[];
}

async function keyOf(p: { api_key_env?: string; api_key_secret_id?: string }, deps: ProviderRegistryDeps) {
  if (p.api_key_secret_id) return deps.readSecret(p.api_key_secret_id);
  return p.api_key_env ? deps.env[p.api_key_env]?.trim() || undefined : undefined;
}

async function create(name: string, p: ProviderConfig, deps: ProviderRegistryDeps): Promise<{ adapter: ProviderAdapter; secret?: string }> {
  const timeouts = { timeoutMs: deps.config.UPSTREAM_TIMEOUT_MS, idleTimeoutMs: deps.config.UPSTREAM_IDLE_TIMEOUT_MS };
  switch (p.type) {
    case 'openai': {
      const apiKey = await keyOf(p, deps);
      const adapter = createOpenAIProvider({
        name,
        baseUrl: p.base_url,
        apiKey,
        authHeader: p.auth_header,
        headers: p.headers,
        maxConnections: deps.config.UPSTREAM_MAX_CONNECTIONS,
        ...timeouts,
      });
      return { adapter, secret: apiKey };
    }
    case 'anthropic': {
      const apiKey = await keyOf(p, deps);
      const adapter = createAnthropicProvider({
        name,
        apiKey,
        baseUrl: p.base_url,
        maxConnections: deps.config.UPSTREAM_MAX_CONNECTIONS,
        ...timeouts,
      });
      return { adapter, secret: apiKey };
    }
    case 'bedrock': {
      // Loaded only where a Bedrock provider is configured: evaluating the AWS SDK's Bedrock client
      // costs ~3 MB of heap in every replica that never calls it.
      const { createBedrockProvider } = await import('./bedrock');
      // Credentials from the AWS SDK's default chain: the task role on ECS, a profile on a laptop.
      return { adapter: createBedrockProvider({ name, region: p.region, endpoint: p.endpoint, ...timeouts }) };
    }
    case 'mock':
      return { adapter: createMockProvider({ name, ...timeouts }) };
  }
}

/** One adapter per provider of the routing document, credentials read once at boot. */
export async function createProviders(doc: RoutingDocument, deps: ProviderRegistryDeps): Promise<ProviderRegistry> {
  const byName = new Map<string, ProviderAdapter>();
  const secrets: string[] = [];
  for (const [name, p] of Object.entries(doc.providers)) {
    const { adapter, secret } = await create(name, p, deps);
    byName.set(name, adapter);
    if (secret) secrets.push(secret);
  }
  return { byName, secrets };
}
