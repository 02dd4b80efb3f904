/**
 * Token usage in one shape for every surface and provider, read by limits, pricing and the usage
 * rows. `inputTokens` counts every input token, cached reads and cache writes included (OpenAI's
 * `prompt_tokens`; for Anthropic: input_tokens + cache_read_input_tokens + cache_creation_input_tokens).
 * `outputTokens` counts every output token, reasoning included.
 */
export interface Usage {
  inputTokens: number;
  outputTokens: number;
  /** Input tokens read from the provider's prompt cache (a subset of inputTokens). */
  cachedInputTokens?: number;
  /** Input tokens written to the provider's prompt cache (a subset of inputTokens). */
  cacheWriteTokens?: number;
  /** Output tokens spent on reasoning (a subset of outputTokens). */
  reasoningTokens?: number;
  /** True when the gateway counted the tokens itself (a stream cut short, no usage reported). */
  estimated?: boolean;
}

export const NO_USAGE: Usage = Object.freeze({ inputTokens: 0, outputTokens: 0 });
