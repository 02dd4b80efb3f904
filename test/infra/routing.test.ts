import { loadRoutingDocument } from '../../app/routing/document';
import { STAGES } from '../../lib/config';
import { bedrockModels, bedrockResourceArns, inferenceProfilePrefix, providerKeyEnvs, providerSecretIds, RoutingDocument } from '../../lib/routing';

const doc: RoutingDocument = {
  providers: {
    openai: { type: 'openai', base_url: 'https://api.openai.com/v1', api_key_env: 'OPENAI_API_KEY' },
    azure: { type: 'openai', base_url: 'https://x.openai.azure.com/v1', api_key_env: 'OPENAI_API_KEY' },
    bedrock: { type: 'bedrock', region: 'us-east-1' },
    claude: { type: 'anthropic', api_key_secret_id: 'llm-api/prod/anthropic-api-key' },
  },
  models: {
    'claude-sonnet': {
      deployments: [
        { provider: 'bedrock', model: 'us.anthropic.claude-sonnet-4-5-20250929-v1:0' },
        { provider: 'claude', model: 'claude-sonnet-4-5' },
      ],
    },
    'amazon.titan-embed-text-v2:0': { deployments: [{ provider: 'bedrock' }] },
    '*': { deployments: [{ provider: 'openai' }] },
  },
};

describe('routing document → infrastructure', () => {
  test('provider key environment names and read-at-boot secret ids, without duplicates', () => {
    expect(providerKeyEnvs(doc)).toEqual(['OPENAI_API_KEY']);
    expect(providerSecretIds(doc)).toEqual(['llm-api/prod/anthropic-api-key']);
  });

  test('Bedrock models: the deployment model id, else the public name', () => {
    expect(bedrockModels(doc).map((m) => m.id)).toEqual(['amazon.titan-embed-text-v2:0', 'us.anthropic.claude-sonnet-4-5-20250929-v1:0']);
    expect(inferenceProfilePrefix('us.anthropic.claude-sonnet-4-5-20250929-v1:0')).toBe('us');
    expect(inferenceProfilePrefix('amazon.titan-embed-text-v2:0')).toBeUndefined();
  });

  test('an inference profile needs its ARN in the account and the foundation model in every region it spans', () => {
    expect(bedrockResourceArns(bedrockModels(doc), '123456789012').sort()).toEqual(
      [
        'arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0',
        'arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-sonnet-4-5-20250929-v1:0',
        'arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0',
        'arn:aws:bedrock:us-east-2::foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0',
        'arn:aws:bedrock:us-west-2::foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0',
      ].sort(),
    );
  });
});

describe('the routing document each stage passes as MODELS_CONFIG', () => {
  test.each(['dev', 'staging', 'prod'] as const)('%s parses with the app own schema', (name) => {
    const inline = JSON.stringify(STAGES[name].routing);
    const parsed = loadRoutingDocument({ inline })!;
    expect(Object.keys(parsed.providers)).toEqual(Object.keys(STAGES[name].routing.providers));
    expect(Object.keys(parsed.models)).toEqual(Object.keys(STAGES[name].routing.models));
  });
});
