import type { Usage } from '../pipeline/usage';
import { priceLookupNames } from './model-names';
import { priceTableSchema, type Price, type PriceTable } from './price';
import shipped from './prices.json';

/** The shipped defaults, checked once at load: a typo in prices.json fails the first test, not a bill. */
export const DEFAULT_PRICES: PriceTable = priceTableSchema.parse(shipped.models);
export const DEFAULT_PRICES_AS_OF: string = shipped.as_of;

export interface PricingOptions {
  /** Whole prices by model name (PRICES_FILE, the routing document); they win over the defaults. */
  overrides?: PriceTable;
  log?: { warn(obj: object, msg: string): void };
  /** Every usage priced as null for want of a price (count usage_unpriced_total{model}). Must not throw. */
  onUnpriced?: (model: string) => void;
  /** @default DEFAULT_PRICES */
  defaults?: PriceTable;
}

export interface Pricing {
  /** The model's price, found under the names `priceLookupNames` lists; undefined when none. */
  price(model: string): Price | undefined;
  /** USD for one usage; null when the model has no price (never throws). */
  cost(model: string, usage: Usage, override?: Partial<Price>): number | null;
  /**
   * The most a request can cost: every input token at the input rate plus `maxOutputTokens` at the
   * output rate. What a dollar budget reserves on the way in. Null when the model has no price.
   */
  maxCost(model: string, inputTokens: number, maxOutputTokens: number, override?: Partial<Price>): number | null;
  /**
   * The most a request can cost on any of the deployments it may be served by (a routed model's
   * deployments and fallbacks): reserve this before the router has picked one. Null when none is priced.
   */
  maxCostOf(candidates: Array<{ model: string; price?: Partial<Price> }>, inputTokens: number, maxOutputTokens: number): number | null;
}

const PER_TOKEN = 1e-6;

function count(v: number | undefined): number {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : 0;
}

/** Float noise off (0.1 + 0.2), while keeping far below a millionth of a cent. */
export function roundUsd(usd: number): number {
  return Math.round(usd * 1e10) / 1e10;
}

/**
 * USD for `usage` at `price`. Cached reads and cache writes are subsets of the input tokens and
 * priced at their own rates; the rest of the input at `input`. Reasoning tokens are output tokens.
 */
export function costOf(price: Price, usage: Usage): number {
  const input = count(usage.inputTokens);
  const cached = Math.min(count(usage.cachedInputTokens), input);
  const written = Math.min(count(usage.cacheWriteTokens), input - cached);
  const plain = input - cached - written;
  const usd =
    plain * price.input +
    cached * (price.cached_input ?? price.input) +
    written * (price.cache_write ?? price.input) +
    count(usage.outputTokens) * price.output;
  return roundUsd(usd * PER_TOKEN);
}

function complete(p: Partial<Price> | undefined): p is Price {
  return typeof p?.input === 'number' && typeof p.output === 'number';
}

export function createPricing(opts: PricingOptions = {}): Pricing {
  const table: PriceTable = { ...(opts.defaults ?? DEFAULT_PRICES) };
  for (const [name, price] of Object.entries(opts.overrides ?? {})) table[name.toLowerCase()] = price;
  const found = new Map<string, Price | undefined>();
  const warned = new Set<string>();

  function price(model: string): Price | undefined {
    if (found.has(model)) return found.get(model);
    let hit: Price | undefined;
    for (const name of priceLookupNames(model)) {
      if (Object.hasOwn(table, name)) {
        hit = table[name];
        break;
      }
    }
    // Model names come from callers: remember only a bounded number of them.
    if (found.size < 10_000) found.set(model, hit);
    return hit;
  }

  function resolve(model: string, override?: Partial<Price>): Price | undefined {
    const base = price(model);
    if (!override) return base;
    const merged = { ...base, ...override };
    return complete(merged) ? merged : undefined;
  }

  function maxCost(model: string, inputTokens: number, maxOutputTokens: number, override?: Partial<Price>): number | null {
    const p = resolve(model, override);
    if (!p) return null;
    return roundUsd((count(inputTokens) * p.input + count(maxOutputTokens) * p.output) * PER_TOKEN);
  }

  return {
    price,
    cost(model, usage, override) {
      const p = resolve(model, override);
      if (p) return costOf(p, usage);
      try {
        opts.onUnpriced?.(model);
      } catch {
        // Counting is best effort; the request is not failed over a metric.
      }
      if (!warned.has(model) && warned.size < 1000) {
        warned.add(model);
        opts.log?.warn({ model }, 'no price for model: its usage is recorded with cost_usd null (set PRICES_FILE)');
      }
      return null;
    },
    maxCost,
    maxCostOf(candidates, inputTokens, maxOutputTokens) {
      let most: number | null = null;
      for (const c of candidates) {
        const usd = maxCost(c.model, inputTokens, maxOutputTokens, c.price);
        if (usd !== null && (most === null || usd > most)) most = usd;
      }
      return most;
    },
  };
}
