import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultRoutingDocument, loadRoutingDocument, parseRoutingDocument } from '../../../app/routing/document';

const GOOD = {
  providers: {
    openai: { type: 'openai', base_url: 'https://api.openai.com/v1', api_key_env: 'OPENAI_API_KEY' },
    bedrock: { type: 'bedrock', region: 'us-east-1' },
  },
  models: {
    'gpt-4o-mini': { deployments: [{ provider: 'openai' }] },
    claude: { deployments: [{ provider: 'bedrock', model: 'us.anthropic.claude-sonnet-4-5-20250929-v1:0', weight: 3 }], fallbacks: ['gpt-4o-mini'] },
  },
};

describe('routing document', () => {
  it('parses a document and fills the defaults', () => {
    const doc = parseRoutingDocument(GOOD);
    expect(doc.models.claude.deployments[0]).toMatchObject({ weight: 3, priority: 0 });
    expect(doc.models['gpt-4o-mini'].fallbacks).toEqual([]);
  });

  it('fails naming the path of an unknown provider', () => {
    const bad = { ...GOOD, models: { claude: { deployments: [{ provider: 'bedrok' }] } } };
    expect(() => parseRoutingDocument(bad)).toThrow(/models\.claude\.deployments\[0\]\.provider: unknown provider 'bedrok'/);
  });

  it('fails naming an unknown fallback and a self fallback', () => {
    const bad = { ...GOOD, models: { a: { deployments: [{ provider: 'openai' }], fallbacks: ['nope', 'a'] } } };
    expect(() => parseRoutingDocument(bad)).toThrow(/models\.a\.fallbacks\[0\]: unknown model 'nope'.*models\.a\.fallbacks\[1\]/);
  });

  it('fails on a provider of an unknown type or with unknown fields', () => {
    expect(() => parseRoutingDocument({ providers: { x: { type: 'azure' } }, models: {} })).toThrow(/providers\.x/);
    expect(() =>
      parseRoutingDocument({ providers: { x: { type: 'bedrock', region: 'us-east-1', regoin: 'x' } }, models: {} }),
    ).toThrow(/providers\.x/);
  });

  it('reads YAML and JSON files, and inline JSON', () => {
    const dir = mkdtempSync(join(tmpdir(), 'routing-'));
    const yaml = join(dir, 'models.yaml');
    writeFileSync(yaml, 'providers:\n  m: {type: mock}\nmodels:\n  "*": {deployments: [{provider: m}]}\n');
    expect(loadRoutingDocument({ file: yaml })?.providers.m).toEqual({ type: 'mock' });
    const json = join(dir, 'models.json');
    writeFileSync(json, JSON.stringify(GOOD));
    expect(Object.keys(loadRoutingDocument({ file: json })!.models)).toEqual(['gpt-4o-mini', 'claude']);
    expect(loadRoutingDocument({ inline: JSON.stringify(GOOD) })?.models.claude.fallbacks).toEqual(['gpt-4o-mini']);
    expect(loadRoutingDocument({})).toBeUndefined();
  });

  it('fails clearly on an unreadable file or bad inline JSON', () => {
    expect(() => loadRoutingDocument({ file: '/nonexistent/models.json' })).toThrow(/MODELS_FILE .* cannot be read: ENOENT/);
    expect(() => loadRoutingDocument({ inline: '{nope' })).toThrow(/MODELS_CONFIG is not valid JSON/);
  });

  it('without a document, one provider serves every name', () => {
    expect(defaultRoutingDocument('mock')).toEqual({
      providers: { default: { type: 'mock' } },
      models: { '*': { deployments: [{ provider: 'default', weight: 1, priority: 0 }], fallbacks: [] } },
    });
    const doc = defaultRoutingDocument({ baseUrl: 'http://vllm:8000/v1', apiKeyEnv: true });
    expect(doc.providers.default).toEqual({ type: 'openai', base_url: 'http://vllm:8000/v1', api_key_env: 'OPENAI_API_KEY' });
    expect(() => parseRoutingDocument(doc)).not.toThrow();
  });
});
