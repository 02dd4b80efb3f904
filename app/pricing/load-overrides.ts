import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { priceTableSchema, type PriceTable } from './price';

/**
 * Reads PRICES_FILE: JSON or YAML (YAML is a superset of JSON, so one parser reads both), either
 * shaped like the shipped prices.json (`{models: {name: price}}`) or as a plain `{name: price}` map.
 * Throws an Error naming the file and the first bad entry, so a bad file stops the boot.
 */
export function loadPriceOverrides(path: string): PriceTable {
  let doc: unknown;
  try {
    doc = parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`PRICES_FILE ${path}: cannot read it: ${(err as Error).message}`);
  }
  const models =
    doc !== null && typeof doc === 'object' && 'models' in doc ? (doc as { models: unknown }).models : doc;
  const parsed = priceTableSchema.safeParse(models);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`PRICES_FILE ${path}: ${issue.path.join('.') || 'top level'}: ${issue.message} (expected {model: {input, output, cached_input?, cache_write?}} in USD per 1M tokens)`);
  }
  return parsed.data;
}
