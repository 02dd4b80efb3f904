import type { Usage } from '../pipeline/usage';

/** Reads a non-negative token count; anything else is 0. */
function n(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.floor(v) : 0;
}

function obj(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

/** Chat completions, legacy completions and embeddings: `prompt_tokens`, `completion_tokens`, details. */
export function fromOpenAIUsage(raw: unknown): Usage | undefined {
  const u = obj(raw);
  if (!u || (u.prompt_tokens === undefined && u.completion_tokens === undefined)) return undefined;
  return {
    inputTokens: n(u.prompt_tokens),
    outputTokens: n(u.completion_tokens),
    cachedInputTokens: n(obj(u.prompt_tokens_details)?.cached_tokens),
    reasoningTokens: n(obj(u.completion_tokens_details)?.reasoning_tokens),
  };
}

/** The Responses API: `input_tokens`, `output_tokens`, `*_tokens_details`. */
export function fromResponsesUsage(raw: unknown): Usage | undefined {
  const u = obj(raw);
  if (!u || (u.input_tokens === undefined && u.output_tokens === undefined)) return undefined;
  return {
    inputTokens: n(u.input_tokens),
    outputTokens: n(u.output_tokens),
    cachedInputTokens: n(obj(u.input_tokens_details)?.cached_tokens),
    reasoningTokens: n(obj(u.output_tokens_details)?.reasoning_tokens),
  };
}

/**
 * Anthropic's Messages API: `input_tokens` excludes the prompt-cache reads and writes, which are
 * billed apart; ours counts every input token, so they are added back.
 */
export function fromAnthropicUsage(raw: unknown): Usage | undefined {
  const u = obj(raw);
  if (!u || (u.input_tokens === undefined && u.output_tokens === undefined)) return undefined;
  const cached = n(u.cache_read_input_tokens);
  const written = n(u.cache_creation_input_tokens);
  return {
    inputTokens: n(u.input_tokens) + cached + written,
    outputTokens: n(u.output_tokens),
    cachedInputTokens: cached,
    cacheWriteTokens: written,
  };
}
