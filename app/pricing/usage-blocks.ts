import type { Usage } from '../pipeline/usage';

/**
 * Each surface's usage object read into the one Usage shape that pricing, limits and the usage rows
 * use. Missing or malformed numbers read as 0, so a provider that leaves out a detail is priced at
 * the plain input/output rate rather than failing the request.
 */
type Json = Record<string, unknown> | null | undefined;

function n(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : 0;
}

function obj(v: unknown): Json {
  return v !== null && typeof v === 'object' ? (v as Record<string, unknown>) : undefined;
}

/** Chat completions (and legacy completions): `prompt_tokens_details.cached_tokens`, `completion_tokens_details.reasoning_tokens`. */
export function usageFromChat(u: Json): Usage {
  return {
    inputTokens: n(u?.prompt_tokens),
    outputTokens: n(u?.completion_tokens),
    cachedInputTokens: n(obj(u?.prompt_tokens_details)?.cached_tokens),
    reasoningTokens: n(obj(u?.completion_tokens_details)?.reasoning_tokens),
  };
}

/** Responses API: `input_tokens_details.cached_tokens`, `output_tokens_details.reasoning_tokens`. */
export function usageFromResponses(u: Json): Usage {
  return {
    inputTokens: n(u?.input_tokens),
    outputTokens: n(u?.output_tokens),
    cachedInputTokens: n(obj(u?.input_tokens_details)?.cached_tokens),
    reasoningTokens: n(obj(u?.output_tokens_details)?.reasoning_tokens),
  };
}

/**
 * Anthropic Messages: `input_tokens` excludes the cache, so every input token is
 * input_tokens + cache_read_input_tokens + cache_creation_input_tokens (see Usage).
 */
export function usageFromMessages(u: Json): Usage {
  const read = n(u?.cache_read_input_tokens);
  const write = n(u?.cache_creation_input_tokens);
  return {
    inputTokens: n(u?.input_tokens) + read + write,
    outputTokens: n(u?.output_tokens),
    cachedInputTokens: read,
    cacheWriteTokens: write,
  };
}

/** Embeddings: input only. */
export function usageFromEmbeddings(u: Json): Usage {
  return { inputTokens: n(u?.prompt_tokens ?? u?.total_tokens), outputTokens: 0 };
}
