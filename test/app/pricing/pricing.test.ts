import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPriceOverrides } from '../../../app/pricing/load-overrides';
import { priceLookupNames } from '../../../app/pricing/model-names';
import { costOf, createPricing, DEFAULT_PRICES, DEFAULT_PRICES_AS_OF } from '../../../app/pricing/pricing';
import { usageFromChat, usageFromMessages, usageFromResponses } from '../../../app/translate/usage';

const cents = (usd: number | null) => (usd === null ? null : Math.round(usd * 100 * 1e6) / 1e6);

describe('pricing usage blocks against hand-computed figures', () => {
  const pricing = createPricing();

  it('prices a chat completion with cached input and reasoning tokens (gpt-4o)', () => {
    // gpt-4o: $2.50 input, $1.25 cached input, $10 output per 1M tokens.
    const usage = usageFromChat({
      prompt_tokens: 10_000,
      completion_tokens: 2_000,
      total_tokens: 12_000,
      prompt_tokens_details: { cached_tokens: 4_000 },
      completion_tokens_details: { reasoning_tokens: 500 },
    });
    expect(usage).toEqual({ inputTokens: 10_000, outputTokens: 2_000, cachedInputTokens: 4_000, reasoningTokens: 500 });
    // 6000 × 2.50 + 4000 × 1.25 + 2000 × 10 = 15000 + 5000 + 20000 = 40000 µ$ → $0.04
    expect(pricing.cost('gpt-4o-2024-08-06', usage)).toBe(0.04);
    expect(cents(pricing.cost('gpt-4o', usage))).toBe(4);
  });

  it('prices a responses usage block with cached input and reasoning tokens (o3)', () => {
    // o3: $2 input, $0.50 cached input, $8 output.
    const usage = usageFromResponses({
      input_tokens: 20_000,
      input_tokens_details: { cached_tokens: 8_000, cache_write_tokens: 0 },
      output_tokens: 5_000,
      output_tokens_details: { reasoning_tokens: 4_000 },
      total_tokens: 25_000,
    });
    expect(usage).toEqual({ inputTokens: 20_000, outputTokens: 5_000, cachedInputTokens: 8_000, reasoningTokens: 4_000 });
    // 12000 × 2 + 8000 × 0.5 + 5000 × 8 = 24000 + 4000 + 40000 µ$ → $0.068 (reasoning is output: not added twice)
    expect(pricing.cost('o3', usage)).toBe(0.068);
  });

  it('prices an Anthropic messages usage block with cache reads and writes (claude-sonnet-4-5 on Bedrock)', () => {
    // $3 input, $0.30 cache read, $3.75 cache write, $15 output.
    const usage = usageFromMessages({
      input_tokens: 1_000,
      cache_read_input_tokens: 50_000,
      cache_creation_input_tokens: 10_000,
      output_tokens: 3_000,
    });
    expect(usage).toEqual({ inputTokens: 61_000, outputTokens: 3_000, cachedInputTokens: 50_000, cacheWriteTokens: 10_000 });
    // 1000 × 3 + 50000 × 0.3 + 10000 × 3.75 + 3000 × 15 = 3000 + 15000 + 37500 + 45000 µ$ → $0.1005
    expect(pricing.cost('us.anthropic.claude-sonnet-4-5-20250929-v1:0', usage)).toBe(0.1005);
    expect(pricing.cost('claude-sonnet-4-5', usage)).toBe(0.1005);
  });

  it('prices embeddings on input only', () => {
    expect(pricing.cost('text-embedding-3-small', usageFromChat({ prompt_tokens: 1_000_000, completion_tokens: 0, total_tokens: 1_000_000 }))).toBe(0.02);
  });


});

describe('costOf', () => {
  it('charges the input rate where no cache rate is set, and never counts a cached token twice', () => {
    const price = { input: 1, output: 2 };
    expect(costOf(price, { inputTokens: 1000, outputTokens: 1000, cachedInputTokens: 400, cacheWriteTokens: 100 })).toBe(0.003);
    // Provider reports more cached tokens than input: capped at the input.
    expect(costOf({ input: 1, cached_input: 0.5, output: 0 }, { inputTokens: 100, outputTokens: 0, cachedInputTokens: 500 })).toBe(0.00005);
  });
});

describe('price lookup', () => {
  it('lists the names tried, most specific first', () => {
    expect(priceLookupNames('us.anthropic.claude-sonnet-4-5-20250929-v1:0')).toEqual([
      'us.anthropic.claude-sonnet-4-5-20250929-v1:0',
      'claude-sonnet-4-5-20250929',
      'claude-sonnet-4-5',
    ]);
    expect(priceLookupNames('gpt-4o-mini-2024-07-18')).toEqual(['gpt-4o-mini-2024-07-18', 'gpt-4o-mini']);
    expect(priceLookupNames('openai/GPT-4o')).toEqual(['openai/gpt-4o', 'gpt-4o']);
    expect(priceLookupNames('claude-3-5-haiku@20241022')).toContain('claude-3-5-haiku');
  });

  it.each([
    ['gpt-4o-mini-2024-07-18', 0.15],
    ['gpt-4o-2024-05-13', 5], // the dated id with its own price wins over the plain name
    ['anthropic.claude-3-5-sonnet-20241022-v2:0', 3],
    ['eu.anthropic.claude-haiku-4-5-20251001-v1:0', 1],
    ['amazon.nova-pro-v1:0', 0.8],
    ['us.amazon.nova-lite-v1:0', 0.06],
    ['meta.llama3-1-8b-instruct-v1:0', 0.22],
    ['amazon.titan-embed-text-v2:0', 0.02],
    ['claude-sonnet-4-5-latest', 3],
  ])('prices %s at $%p input', (model, input) => {
    expect(createPricing().price(model)?.input).toBe(input);
  });

  it('ships a dated table with OpenAI, Anthropic and Bedrock models', () => {
    expect(DEFAULT_PRICES_AS_OF).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    for (const m of ['gpt-4o', 'claude-sonnet-4-5', 'nova-pro']) expect(DEFAULT_PRICES[m]).toBeDefined();
  });
});

describe('unpriced models and overrides', () => {
  it('answers null, counts every unpriced usage and warns once per model', () => {
    const warn = jest.fn();
    const onUnpriced = jest.fn();
    const pricing = createPricing({ log: { warn }, onUnpriced });
    const u = { inputTokens: 10, outputTokens: 10 };
    expect(pricing.cost('my-local-llama', u)).toBeNull();
    expect(pricing.cost('my-local-llama', u)).toBeNull();
    expect(pricing.cost('other', u)).toBeNull();
    expect(onUnpriced.mock.calls).toEqual([['my-local-llama'], ['my-local-llama'], ['other']]);
    expect(warn).toHaveBeenCalledTimes(2);
    expect(warn.mock.calls[0][0]).toEqual({ model: 'my-local-llama' });
    expect(pricing.maxCost('my-local-llama', 100, 100)).toBeNull();
  });

  it('a throwing onUnpriced callback does not fail the request', () => {
    const pricing = createPricing({ onUnpriced: () => { throw new Error('metrics broke'); } });
    expect(pricing.cost('nope', { inputTokens: 1, outputTokens: 1 })).toBeNull();
  });

  it('file overrides replace a default; a deployment price overrides field by field', () => {
    const pricing = createPricing({ overrides: { 'GPT-4o': { input: 1, output: 1 }, 'my-llama': { input: 0.1, output: 0.2 } } });
    expect(pricing.cost('gpt-4o', { inputTokens: 1_000_000, outputTokens: 0, cachedInputTokens: 500_000 })).toBe(1);
    expect(pricing.cost('my-llama', { inputTokens: 1_000_000, outputTokens: 1_000_000 })).toBeCloseTo(0.3, 12);
    expect(pricing.cost('gpt-4o-mini', { inputTokens: 1_000_000, outputTokens: 0 }, { input: 0.3 })).toBe(0.3);
    // A partial deployment price for a model without a table price is not a price.
    expect(pricing.cost('unknown', { inputTokens: 1, outputTokens: 1 }, { input: 1 })).toBeNull();
    expect(pricing.cost('unknown', { inputTokens: 1_000_000, outputTokens: 0 }, { input: 2, output: 4 })).toBe(2);
  });

  it('maxCost is the prompt at the input rate plus max output at the output rate', () => {
    // gpt-4o: 1000 × 2.5 + 500 × 10 = 7500 µ$
    expect(createPricing().maxCost('gpt-4o', 1000, 500)).toBe(0.0075);
  });

  it('maxCostOf takes the most expensive priced candidate (deployments and fallbacks), skipping unpriced ones', () => {
    const pricing = createPricing();
    const candidates = [
      { model: 'us.anthropic.claude-sonnet-4-5-20250929-v1:0' }, // 1000 × 3 + 500 × 15 = 10500 µ$
      { model: 'claude-sonnet-4-5', price: { input: 3.3, output: 16.5 } }, // 3300 + 8250 = 11550 µ$
      { model: 'meta-llama/Llama-3.1-8B-Instruct' }, // unpriced
      { model: 'gpt-4o-mini' },
    ];
    expect(pricing.maxCostOf(candidates, 1000, 500)).toBe(0.01155);
    expect(pricing.maxCostOf([{ model: 'nope' }], 1000, 500)).toBeNull();
    expect(pricing.maxCostOf([], 1000, 500)).toBeNull();
  });
});

describe('loadPriceOverrides', () => {
  const dir = mkdtempSync(join(tmpdir(), 'prices-'));

  it('reads JSON shaped like prices.json and plain YAML maps', () => {
    const json = join(dir, 'p.json');
    writeFileSync(json, JSON.stringify({ as_of: '2026-01-01', models: { 'gpt-4o': { input: 1, output: 2 } } }));
    expect(loadPriceOverrides(json)).toEqual({ 'gpt-4o': { input: 1, output: 2 } });
    const yaml = join(dir, 'p.yaml');
    writeFileSync(yaml, 'llama-local:\n  input: 0.1\n  cached_input: 0.01\n  output: 0.2\n');
    expect(loadPriceOverrides(yaml)).toEqual({ 'llama-local': { input: 0.1, cached_input: 0.01, output: 0.2 } });
  });

  it('fails naming the file and the bad entry', () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'gpt-4o:\n  input: -1\n  output: 2\n');
    expect(() => loadPriceOverrides(bad)).toThrow(/bad\.yaml: gpt-4o\.input/);
    const typo = join(dir, 'typo.yaml');
    writeFileSync(typo, 'gpt-4o:\n  inptu: 1\n  output: 2\n');
    expect(() => loadPriceOverrides(typo)).toThrow(/typo\.yaml: gpt-4o/);
    expect(() => loadPriceOverrides(join(dir, 'missing.json'))).toThrow(/missing\.json: cannot read it/);
  });
});
