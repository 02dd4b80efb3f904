import { z } from 'zod';

/**
 * One model's price in USD per 1 million tokens, snake_case as it is written in prices.json,
 * PRICES_FILE and a routing document's deployment `price`. `cached_input` (prompt-cache reads) and
 * `cache_write` (prompt-cache writes) default to `input` when a provider has no such discount.
 */
export const priceSchema = z.strictObject({
  input: z.number().min(0),
  cached_input: z.number().min(0).optional(),
  cache_write: z.number().min(0).optional(),
  output: z.number().min(0),
});
export type Price = z.infer<typeof priceSchema>;

/** A table of prices by model name. */
export const priceTableSchema = z.record(z.string().min(1), priceSchema);
export type PriceTable = z.infer<typeof priceTableSchema>;
